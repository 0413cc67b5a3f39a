/* build/ggdm: the reference's command line (every command runs on the CPU, libggdm). */
#include "../../conformance/runner.h"
#include "cmds.h"

int main(int argc, char **argv)
{
    return ggdm_cli_main(argc, argv, &conf_impl_ref);
}
