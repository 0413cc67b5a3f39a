#!/usr/bin/env python3
"""Parses an SVG with xml.etree (fails if it is not well-formed XML) and prints what the
front-end test checks: "root WIDTH HEIGHT", "paths N", "circles N", then "text CONTENT" for
each <text> element (its whole text, tspans included)."""
import sys
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"


def main(path):
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        sys.stderr.write("%s: not well-formed: %s\n" % (path, e))
        return 1
    if root.tag != NS + "svg":
        sys.stderr.write("%s: root element is %s, not svg\n" % (path, root.tag))
        return 1
    print("root %s %s" % (root.get("width"), root.get("height")))
    print("paths %d" % len(list(root.iter(NS + "path"))))
    print("circles %d" % len(list(root.iter(NS + "circle"))))
    for t in root.iter(NS + "text"):
        print("text " + "".join(t.itertext()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
