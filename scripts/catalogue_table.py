#!/usr/bin/env python3
"""The bad-input catalogue (tests/data/bad/catalogue.json) as the markdown table of
docs/hostile-input.md, so the list of bad files and their messages has one source.

    python3 scripts/catalogue_table.py            print the table
    python3 scripts/catalogue_table.py --write    put it between the markers of docs/hostile-input.md
    python3 scripts/catalogue_table.py --check    exit 1, with a diff, when the committed table is not
                                                  the generated one (the ctest Docs.CatalogueTable)
"""
import difflib
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CATALOGUE = os.path.join(ROOT, 'tests', 'data', 'bad', 'catalogue.json')
DOC = os.path.join(ROOT, 'docs', 'hostile-input.md')
BEGIN = ('<!-- the catalogue table: generated from tests/data/bad/catalogue.json by '
         'scripts/catalogue_table.py --write; do not edit -->')
END = '<!-- end of the catalogue table -->'


def cell(text):
    return text.replace('|', '\\|')


def table(entries):
    lines = ['| file | what | expected message contains |', '|------|------|---------------------------|']
    for e in entries:
        expect = cell(e['expect'])
        if 'needs' in e:
            expect += f" (the wasm build: {e['needs']} is not decodable here)"
        lines.append(f"| `{cell(e['file'])}` | {cell(e['what'])} | {expect} |")
    return lines


def split_doc(text):
    """The document's lines before the table (through BEGIN), the table, and after it (from END)."""
    lines = text.split('\n')
    if lines.count(BEGIN) != 1 or lines.count(END) != 1 or lines.index(BEGIN) > lines.index(END):
        sys.exit(f'{DOC}: expected one "{BEGIN}" line followed by one "{END}" line')
    b, e = lines.index(BEGIN), lines.index(END)
    return lines[:b + 1], lines[b + 1:e], lines[e:]


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else '--print'
    if mode not in ('--print', '--write', '--check'):
        sys.exit(__doc__)
    with open(CATALOGUE, encoding='utf-8') as f:
        generated = table(json.load(f))
    if mode == '--print':
        print('\n'.join(generated))
        return 0
    with open(DOC, encoding='utf-8') as f:
        before, committed, after = split_doc(f.read())
    if mode == '--write':
        with open(DOC, 'w', encoding='utf-8') as f:
            f.write('\n'.join(before + generated + after))
        return 0
    if committed == generated:
        print(f'{os.path.relpath(DOC, ROOT)}: the catalogue table matches tests/data/bad/catalogue.json')
        return 0
    sys.stdout.writelines(difflib.unified_diff(
        [l + '\n' for l in committed], [l + '\n' for l in generated],
        'docs/hostile-input.md (committed)', 'scripts/catalogue_table.py (generated)'))
    print('the catalogue table is stale: run python3 scripts/catalogue_table.py --write')
    return 1


if __name__ == '__main__':
    sys.exit(main())
