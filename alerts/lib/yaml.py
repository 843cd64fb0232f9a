#!/usr/bin/env python3
"""Writes the JSON jsonnet renders as the readable YAML of the committed files: keys in the
order people expect (alert or record, expr, for, labels, annotations), multi-line strings as
block scalars, every other string quoted the JSON way (which YAML accepts).

jsonnet itself can write YAML, but Debian's C++ jsonnet takes minutes over the dashboards'
ConfigMaps; this takes milliseconds.

    python3 alerts/lib/yaml.py [--documents] HEADER < document.json > file.yaml

The input is one JSON document, or with --documents a JSON list of them (written one after
the other, separated by ---). HEADER, a comment line, is written first.
"""

import json
import sys

ORDER = ['apiVersion', 'kind', 'metadata', 'name', 'alert', 'record', 'expr', 'for',
         'keep_firing_for', 'labels', 'annotations', 'rules']


def scalar(value, indent):
    if isinstance(value, str):
        text = value.rstrip('\n')
        if '\n' in text:
            return '|-\n' + '\n'.join('' if line == '' else indent + line
                                      for line in text.split('\n'))
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value)


def keys(obj):
    return [k for k in ORDER if k in obj] + sorted(k for k in obj if k not in ORDER)


def mapping(obj, indent):
    lines = []
    for key in keys(obj):
        value = obj[key]
        if isinstance(value, dict):
            lines.append(indent + key + ':\n' + mapping(value, indent + '  '))
        elif isinstance(value, list):
            items = [indent + '  - ' + mapping(item, indent + '    ').lstrip(' ')
                     for item in value]
            lines.append(indent + key + ':\n' + '\n'.join(items))
        else:
            lines.append(indent + key + ': ' + scalar(value, indent + '  '))
    return '\n'.join(lines)


def main():
    args = [a for a in sys.argv[1:] if a != '--documents']
    header = args[0] + '\n' if args else ''
    data = json.load(sys.stdin)
    documents = data if '--documents' in sys.argv else [data]
    sys.stdout.write(header + '---\n'.join(mapping(d, '') + '\n' for d in documents))


if __name__ == '__main__':
    main()
