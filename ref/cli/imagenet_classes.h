/* The 1000 ImageNet class names (imagenet_classes.c). */
#ifndef GGDM_CLI_IMAGENET_CLASSES_H
#define GGDM_CLI_IMAGENET_CLASSES_H
#define GGDM_IMAGENET_CLASSES 1000
extern const char *const ggdm_imagenet_classes[GGDM_IMAGENET_CLASSES];
#endif
