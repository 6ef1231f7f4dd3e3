#!/usr/bin/env bash
# The documentation check. Two parts:
#
#  1. Links: every relative link (and image) in README.md and docs/*.md leads to a file or folder
#     of the repository: it exists, it does not leave the repository (`../` past the root), and it
#     is not git-ignored (when git is at hand). A `#anchor` on a Markdown target must name one of
#     its headings (GitHub's slugs). Links with a scheme (https:, mailto:) are not followed.
#  2. docs/asyncapi.yaml: parsed and validated by @asyncapi/parser, its message examples held to
#     their payload schemas (infra/scripts/validate-asyncapi.mjs). The parser is installed from
#     npm into target/docs-tools (git-ignored) when it is not there yet.
#
# Needs bash, python3 (standard library only) and node/npm. Run from anywhere; it works from the
# repository's root. Exit status: 0 when both parts pass, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."

# The parser's version, pinned so that every run judges the document by the same rules.
ASYNCAPI_PARSER_VERSION=3.6.6
TOOLS=target/docs-tools

status=0

echo "== links in README.md and docs/*.md"
python3 - README.md docs/*.md <<'PY' || status=1
import os
import re
import shutil
import subprocess
import sys
from urllib.parse import unquote

ROOT = os.path.realpath(os.getcwd())
FENCE = re.compile(r"^(\s{0,3})(`{3,}|~{3,})")
# [text](target "title") and ![alt](target); text may hold one level of brackets.
INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)")
# [label]: target (reference definitions)
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:[^>]*\s)?(?:name|id)=\"([^\"]+)\"", re.I)


def prose_lines(path):
    """(line number, text) of each line outside fenced code blocks."""
    fence = None
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            m = FENCE.match(line)
            if fence is None and m:
                fence = m.group(2)[0] * len(m.group(2))
                continue
            if fence is not None:
                if line.strip().startswith(fence):
                    fence = None
                continue
            yield n, line.rstrip("\n")


def mask_code(line):
    """Blanks code spans that hold `](`, so code that looks like a link is not read as one."""
    return CODE_SPAN.sub(lambda m: m.group(0) if "](" not in m.group(2) else " " * len(m.group(0)), line)


def slug(text):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link's text only
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


anchor_cache = {}


def anchors(path):
    if path not in anchor_cache:
        seen, found = {}, set()
        for _, line in prose_lines(path):
            m = HEADING.match(line)
            if m:
                base = slug(m.group(1))
                count = seen.get(base, 0)
                seen[base] = count + 1
                found.add(base if count == 0 else f"{base}-{count}")
            found.update(HTML_ANCHOR.findall(line))
        anchor_cache[path] = found
    return anchor_cache[path]


def ignored(paths):
    """The paths among `paths` that git ignores (none when git or a work tree is missing)."""
    if not paths or shutil.which("git") is None:
        return set()
    try:
        out = subprocess.run(
            ["git", "check-ignore", "--no-index", "--stdin", "-z"],
            input="\0".join(paths) + "\0", capture_output=True, text=True, cwd=ROOT,
        )
    except OSError:
        return set()
    if out.returncode not in (0, 1):
        return set()
    return {p for p in out.stdout.split("\0") if p}


problems, checked, targets = [], 0, {}
for doc in sys.argv[1:]:
    base = os.path.dirname(os.path.abspath(doc))
    for n, line in prose_lines(doc):
        line = mask_code(line)
        found = [m.group(1) for m in INLINE.finditer(line)]
        ref = REFERENCE.match(line)
        if ref:
            found.append(ref.group(1))
        for raw in found:
            target = raw[1:-1] if raw.startswith("<") and raw.endswith(">") else raw
            where = f"{doc}:{n}: ({raw})"
            if not target:
                problems.append(f"{where} an empty link")
                continue
            if target.startswith("//") or SCHEME.match(target):
                continue  # leaves the repository on purpose: not followed
            checked += 1
            path, _, anchor = target.partition("#")
            path = unquote(path.split("?", 1)[0])
            if os.path.isabs(path):
                problems.append(f"{where} an absolute path: links are relative to the file")
                continue
            full = os.path.normpath(os.path.join(base, path)) if path else os.path.abspath(doc)
            real = os.path.realpath(full)
            if os.path.commonpath([ROOT, real]) != ROOT:
                problems.append(f"{where} leaves the repository (a clone has no {os.path.relpath(real, ROOT)})")
                continue
            if not os.path.exists(full):
                problems.append(f"{where} no such file: {os.path.relpath(full, ROOT)}")
                continue
            rel = os.path.relpath(real, ROOT)
            targets.setdefault(rel, []).append(where)
            if anchor and os.path.isfile(full) and full.endswith(".md") and unquote(anchor) not in anchors(full):
                problems.append(f"{where} {os.path.relpath(full, ROOT)} has no heading #{anchor}")

for rel in sorted(ignored(sorted(targets))):
    for where in targets[rel]:
        problems.append(f"{where} {rel} is git-ignored: a clone does not have it")

for problem in problems:
    print(problem)
print(f"{checked} relative link(s) in {len(sys.argv) - 1} file(s), {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
PY

echo "== docs/asyncapi.yaml (@asyncapi/parser $ASYNCAPI_PARSER_VERSION)"
installed=""
if [ -f "$TOOLS/node_modules/@asyncapi/parser/package.json" ]; then
  installed=$(node -p "require('./$TOOLS/node_modules/@asyncapi/parser/package.json').version")
fi
if [ "$installed" != "$ASYNCAPI_PARSER_VERSION" ]; then
  echo "installing @asyncapi/parser@$ASYNCAPI_PARSER_VERSION into $TOOLS (npm)"
  mkdir -p "$TOOLS"
  npm install --prefix "$TOOLS" --no-audit --no-fund --silent --save-exact \
    "@asyncapi/parser@$ASYNCAPI_PARSER_VERSION"
fi
DOCS_TOOLS="$TOOLS" node infra/scripts/validate-asyncapi.mjs docs/asyncapi.yaml || status=1

if [ "$status" -ne 0 ]; then
  echo "check-docs: FAILED"
else
  echo "check-docs: ok"
fi
exit "$status"
