# The code tools (spec/tools/code.yaml) through /v1/mcp: every tool with
# good and bad arguments, then the sandbox under attack - path traversal,
# absolute paths, NUL bytes, symlinks to a sibling directory and to /etc,
# files over the size cap - each refused with isError and a clear message,
# and a fingerprint of the outside directory proving nothing there changed.
. "$TF_ROOT/tests/lib.sh"
. "$TF_ROOT/tests/lib_mesh.sh"
[ -f "$TF_TMP/conf.orig" ] || cp "$TF_CONF" "$TF_TMP/conf.orig"
WSROOT=$TF_TMP/code-ws
OUT=$TF_TMP/code-outside     # the sentinel: a sibling of the workspaces that must never change
CAP=4096
restore() { reload_to "$TF_TMP/conf.orig"; rm -rf "$WSROOT" "$OUT" "$TF_TMP/code-patch"; }
trap restore EXIT
{ cat "$TF_TMP/conf.orig"; printf 'tools:\n  workspace_root: %s\n  max_file_bytes: %s\n' "$WSROOT" "$CAP"; } > "$TF_TMP/conf.code"
reload_to "$TF_TMP/conf.code" || fail "reload with a tools: section"

mesh_user registered
TOK=$U_TOKEN
MCP=$(plain /v1/mcp)
H=(-H 'content-type: application/json' -H 'accept: application/json, text/event-stream')
rpc() { req -X POST "${H[@]}" -H "Authorization: Bearer $TOK" ${SID:+-H "mcp-session-id: $SID"} -H "mcp-protocol-version: 2025-11-25" --data "$1" "$MCP"; }
SID=
rpc '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
SID=$(header mcp-session-id)
rpc '{"jsonrpc":"2.0","method":"notifications/initialized"}'

# call TOOL ARGS_JSON ; sc FILTER: structuredContent ; msg: the text of the answer
call() { rpc "$(jq -cn --arg n "$1" --argjson a "$2" '{jsonrpc:"2.0",id:30,method:"tools/call",params:{name:$n,arguments:$a}}')"; }
sc() { jqr ".result.structuredContent | $1"; }
scj() { printf '%s' "$BODY" | jq -j ".result.structuredContent | $1"; }   # exactly, no newline added
msg() { jqr '.result.content[0].text'; }
iserr() { jqr '.result.isError // false'; }
good() { # good DESC : the last call succeeded
  if [ "$(iserr)" = false ] && [ "$STATUS" = 200 ]; then ok "$1"; else fail "$1" "status $STATUS: $(msg) $BODY"; fi
}
refused() { # refused DESC TOOL ARGS REGEX : isError with a message matching REGEX
  call "$2" "$3"
  if [ "$(iserr)" = true ] && [[ "$(msg)" =~ $4 ]]; then ok "$1"; else fail "$1" "status $STATUS isError $(iserr): $(msg)"; fi
}
bad() { # bad TOOL ARGS FIELD RULE : the generated validator names the field and the rule
  call "$1" "$2"
  expect_eq "$1 with bad arguments: isError naming $3 ($4)" "$(jqr '[.result.isError, .result._meta.field, .result._meta.rule] | join(",")')" "true,$3,$4"
}

call whoami '{}'
UID_=$(sc .user_id)
WS=$WSROOT/$UID_

# --- the workspace ------------------------------------------------------------------------------
call code_list '{}'
good "code_list on a new workspace: empty"
expect_eq "  ... count 0, path ." "$(sc '[.count, .path] | join(",")')" "0,."
expect_eq "  ... the workspace is created 0700 under tools.workspace_root" "$(stat -c %a "$WS" 2>&1)" 700

# --- code_write ------------------------------------------------------------------------------------
MAIN=$'#include <stdio.h>\n\nint main(void)\n{\n    printf("hello\\n");\n    return 0;\n}\n'
refused "code_write into a missing directory: refused, naming create_dirs" code_write \
  "$(jq -cn --arg c "$MAIN" '{path:"src/main.c",content:$c}')" 'parent directory that does not exist.*create_dirs'
call code_write "$(jq -cn --arg c "$MAIN" '{path:"src/main.c",content:$c,create_dirs:true}')"
good "code_write src/main.c with create_dirs"
expect_eq "  ... created, bytes counted" "$(sc '[.created, .bytes, .path] | join(",")')" "true,${#MAIN},src/main.c"
expect_eq "  ... the file holds exactly the content" "$(cat "$WS/src/main.c"; echo x)" "${MAIN}x"
call code_write '{"path":"./src//util.h","content":"long add(int a, int b);\n"}'
expect_eq "code_write again (path normalized): created" "$(sc '[.created, .path] | join(",")')" "true,src/util.h"
call code_write '{"path":"src/util.h","content":"long add(int a, int b);\nlong sub(int a, int b);\n"}'
expect_eq "code_write over an existing file: replaced (created false)" "$(sc .created)" false
refused "code_write with overwrite false on an existing file: refused" code_write '{"path":"src/util.h","content":"x","overwrite":false}' 'already exists.*overwrite is false'
refused "code_write onto a directory: refused" code_write '{"path":"src","content":"x"}' 'is a directory'
bad code_write '{"path":"a.txt"}' /content required
bad code_write '{"path":"","content":"x"}' /path minLength
bad code_write '{"path":"a.txt","content":"x","create_dirs":"yes"}' /create_dirs type

# --- code_read ---------------------------------------------------------------------------------------
call code_read '{"path":"src/main.c"}'
good "code_read src/main.c"
expect_eq "  ... the whole text, 7 lines" "$(sc '[.total_lines, .start_line, .end_line, .size] | join(",")')" "7,1,7,${#MAIN}"
expect_eq "  ... content as written" "$(scj .content; echo x)" "${MAIN}x"
call code_read '{"path":"src/main.c","start_line":3,"end_line":4}'
expect_eq "code_read lines 3-4" "$(sc .content)" $'int main(void)\n{'
call code_read '{"path":"src/main.c","start_line":6}'
expect_eq "code_read from line 6 to the end" "$(sc '[.start_line, .end_line] | join(",")')" "6,7"
refused "code_read past the end: refused" code_read '{"path":"src/main.c","start_line":50}' 'past the end.*7 lines'
refused "code_read end before start: refused" code_read '{"path":"src/main.c","start_line":4,"end_line":2}' 'end_line 2 is before start_line 4'
refused "code_read a missing file: refused" code_read '{"path":"nope.txt"}' "'nope.txt' does not exist"
refused "code_read a directory: refused" code_read '{"path":"src"}' 'is a directory'
printf 'ELF\000\001\002binary' > "$WS/bin.dat"
refused "code_read a binary file: refused" code_read '{"path":"bin.dat"}' 'binary'
bad code_read '{"path":"src/main.c","start_line":0}' /start_line minimum
bad code_read '{}' /path required

# --- code_edit -------------------------------------------------------------------------------------
call code_edit '{"path":"src/main.c","old_string":"printf(\"hello\\n\");","new_string":"printf(\"hello, world\\n\");"}'
good "code_edit a unique string"
expect_eq "  ... 1 replacement" "$(sc .replacements)" 1
expect_contains "  ... the file changed" "$(cat "$WS/src/main.c")" 'hello, world'
refused "code_edit an ambiguous string: refused with the count" code_edit '{"path":"src/util.h","old_string":"int a, int b","new_string":"long a, long b"}' 'occurs 2 times.*replace_all'
call code_edit '{"path":"src/util.h","old_string":"int a, int b","new_string":"long a, long b","replace_all":true}'
expect_eq "code_edit replace_all: 2 replacements" "$(sc .replacements)" 2
expect_eq "  ... both changed" "$(grep -c 'long a, long b' "$WS/src/util.h")" 2
refused "code_edit a string that is not there: refused" code_edit '{"path":"src/util.h","old_string":"nothing like this","new_string":"x"}' 'was not found'
refused "code_edit old equal to new: refused" code_edit '{"path":"src/util.h","old_string":"long","new_string":"long"}' 'same as old_string'
bad code_edit '{"path":"src/util.h","old_string":"","new_string":"y"}' /old_string minLength
bad code_edit '{"path":"src/util.h","old_string":"x"}' /new_string required

# --- code_diff -------------------------------------------------------------------------------------
NEWMAIN=$'#include <stdio.h>\n#include "util.h"\n\nint main(void)\n{\n    printf("%d\\n", add(1, 2));\n    return 0;\n}\n'
call code_diff "$(jq -cn --arg t "$NEWMAIN" '{a:"src/main.c",b_text:$t}')"
good "code_diff a file against a text"
expect_eq "  ... 2 added, 1 removed, 1 hunk" "$(sc '[.identical, .added, .removed, .hunks] | join(",")')" "false,2,1,1"
DIFF=$(sc .diff)
expect_contains "  ... a unified diff with a/ and b/ headers" "$DIFF" $'--- a/src/main.c\n+++ b/src/main.c\n@@ -1,7 +1,8 @@'
mkdir -p "$TF_TMP/code-patch/src" && cp "$WS/src/main.c" "$TF_TMP/code-patch/src/main.c"
(cd "$TF_TMP/code-patch" && printf '%s\n' "$DIFF" | patch -s -p1 --fuzz=0 >/dev/null 2>&1)
expect_eq "  ... GNU patch applies it and makes the text" "$(cat "$TF_TMP/code-patch/src/main.c"; echo x)" "${NEWMAIN}x"
call code_patch "$(jq -cn --arg p "$DIFF" '{patch:$p}')"
expect_eq "  ... code_patch applies it too" "$(sc '[.applied, .hunks, .files[0].action] | join(",")')" "true,1,modified"
expect_eq "  ... making the same text" "$(cat "$WS/src/main.c"; echo x)" "${NEWMAIN}x"
call code_diff '{"a":"src/main.c","b":"src/main.c"}'
expect_eq "code_diff of a file with itself: identical, empty diff" "$(sc '[.identical, .diff, .hunks] | join(",")')" "true,,0"
# Two files with scattered changes and no newline at the end: Myers, hunks, context.
seq 1 40 > "$WS/n1.txt"; { seq 1 40 | sed -e 's/^5$/five/' -e '/^20$/d' -e 's/^33$/33\nthirty-three/'; printf 'end'; } > "$WS/n2.txt"
call code_diff '{"a":"n1.txt","b":"n2.txt","context":2}'
expect_eq "code_diff two files: counts and 4 hunks (context 2)" "$(sc '[.added, .removed, .hunks] | join(",")')" "3,2,4"
expect_contains "  ... marks the missing final newline" "$(sc .diff)" $'+end\n\\ No newline at end of file'
mkdir -p "$TF_TMP/code-patch/n" && cp "$WS/n1.txt" "$TF_TMP/code-patch/n/n1.txt"
(cd "$TF_TMP/code-patch/n" && sc .diff | patch -s -p1 --fuzz=0 n1.txt >/dev/null 2>&1)
expect_eq "  ... GNU patch turns n1 into n2 with it" "$(cmp "$TF_TMP/code-patch/n/n1.txt" "$WS/n2.txt" && echo same)" same
N2=$(cat "$WS/n2.txt"; echo x); N2=${N2%x}
call code_diff "$(jq -cn --arg t "$N2" '{a:"n1.txt",b_text:$t}')"
call code_patch "$(jq -cn --arg p "$(scj .diff)" '{patch:$p}')"
expect_eq "code_patch applies a diff that drops the final newline: n1 becomes n2 byte for byte" "$(cmp "$WS/n1.txt" "$WS/n2.txt" && echo same)" same
seq 1 40 > "$WS/n1.txt"
refused "code_diff with both b and b_text: refused" code_diff '{"a":"n1.txt","b":"n2.txt","b_text":"x"}' 'exactly one of b'
refused "code_diff with neither: refused" code_diff '{"a":"n1.txt"}' 'exactly one of b'
bad code_diff '{"a":"n1.txt","b_text":"x","context":-1}' /context minimum
bad code_diff '{"b":"n1.txt"}' /a required

# --- code_patch ------------------------------------------------------------------------------------
printf 'old\n' > "$WS/old.txt"
PATCH1=$'diff --git a/src/util.h b/src/util.h\nindex 1..2 100644\n--- a/src/util.h\n+++ b/src/util.h\n@@ -1,2 +1,3 @@\n long add(long a, long b);\n long sub(long a, long b);\n+long mul(long a, long b);\n--- /dev/null\n+++ b/docs/notes.md\n@@ -0,0 +1,2 @@\n+# Notes\n+created by a patch\n--- a/old.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-old\n'
call code_patch "$(jq -cn --arg p "$PATCH1" '{patch:$p,dry_run:true}')"
expect_eq "code_patch dry_run: checks three files, changes nothing" "$(sc '[.applied, .hunks, (.files | map(.action) | join("/"))] | join(",")'):$(grep -c mul "$WS/src/util.h")" "false,3,modified/created/deleted:0"
call code_patch "$(jq -cn --arg p "$PATCH1" '{patch:$p}')"
good "code_patch: modify, create (in a new directory) and delete at once"
expect_eq "  ... all three applied" "$(grep -c mul "$WS/src/util.h"),$(head -1 "$WS/docs/notes.md"),$([ -e "$WS/old.txt" ] && echo still || echo gone)" "1,# Notes,gone"
SUM=$(cat "$WS/src/util.h" "$WS/src/main.c" | sha256sum)
PATCH2=$'--- a/src/util.h\n+++ b/src/util.h\n@@ -3 +3,2 @@\n long mul(long a, long b);\n+long div(long a, long b);\n--- a/src/main.c\n+++ b/src/main.c\n@@ -1,3 +1,3 @@\n #include <stdio.h>\n-#include "nothing.h"\n+#include "other.h"\n \n'
refused "code_patch with one hunk that does not match: refused, saying where" code_patch "$(jq -cn --arg p "$PATCH2" '{patch:$p}')" \
  'hunk 1 of .src/main\.c.*does not apply: line 2 is "#include "util\.h"" where the hunk expects "#include "nothing\.h"".*nothing was changed'
expect_eq "  ... and the first file, which did match, is unchanged (all or nothing)" "$(cat "$WS/src/util.h" "$WS/src/main.c" | sha256sum)" "$SUM"
PATCH3=$'--- a/src/util.h\n+++ b/src/util.h\n@@ -1,2 +1,2 @@\n-long add(long a, long b);\n+long add(long x, long y);\n long sub(long a, long b);\n--- /dev/null\n+++ b/src/main.c\n@@ -0,0 +1 @@\n+clobber\n'
refused "code_patch creating a file that exists: refused, nothing changed" code_patch "$(jq -cn --arg p "$PATCH3" '{patch:$p}')" 'already exists.*nothing was changed'
expect_eq "  ... util.h untouched" "$(cat "$WS/src/util.h" "$WS/src/main.c" | sha256sum)" "$SUM"
# Offsets: the hunk's header says line 1, its context is at line 3.
call code_patch '{"patch":"--- a/src/util.h\n+++ b/src/util.h\n@@ -1,1 +1,2 @@\n long mul(long a, long b);\n+long mod(long a, long b);\n"}'
expect_eq "code_patch finds a hunk at another line (offset, fuzz 0)" "$(sed -n 4p "$WS/src/util.h")" "long mod(long a, long b);"
refused "code_patch of text that is no diff: refused" code_patch '{"patch":"hello\nworld\n"}' 'no file diff found'
refused "code_patch with a malformed hunk header: refused" code_patch '{"patch":"--- a/x\n+++ b/x\n@@ bogus @@\n"}' 'malformed hunk header'
refused "code_patch cut short: refused" code_patch '{"patch":"--- a/src/util.h\n+++ b/src/util.h\n@@ -1,5 +1,5 @@\n long add(long a, long b);\n"}' 'ends inside a hunk'
refused "code_patch renaming: refused (code_move does that)" code_patch '{"patch":"--- a/x.c\n+++ b/y.c\n@@ -1 +1 @@\n-a\n+b\n"}' 'renames are not supported'
refused "code_patch with a git rename: refused" code_patch '{"patch":"diff --git a/x b/y\nsimilarity index 100%\nrename from x\nrename to y\n"}' 'renames and copies are not supported'
bad code_patch '{"patch":""}' /patch minLength
bad code_patch '{"patch":"x","dry_run":"yes"}' /dry_run type

# --- code_grep -------------------------------------------------------------------------------------
call code_grep '{"pattern":"long (add|mul)\\("}'
good "code_grep an ERE over the workspace"
expect_eq "  ... two matches with path and line" "$(sc '[.count, (.matches | map("\(.path):\(.line)") | join(" "))] | join(",")')" "2,src/util.h:1 src/util.h:3"
call code_grep '{"pattern":"INCLUDE","ignore_case":true,"include":"*.{c,h}"}'
expect_eq "code_grep ignore_case with include *.{c,h}" "$(sc '[.count, .matches[0].path, .matches[0].text] | join(",")')" "2,src/main.c,#include <stdio.h>"
call code_grep '{"pattern":"include","include":"*.md"}'
expect_eq "code_grep include *.md: none" "$(sc .count)" 0
call code_grep '{"pattern":"long","max_results":2}'
expect_eq "code_grep max_results 2: truncated" "$(sc '[.count, .truncated] | join(",")')" "2,true"
call code_grep '{"pattern":"return","path":"src/main.c"}'
expect_eq "code_grep in one file" "$(sc '[.count, .matches[0].path, .matches[0].line] | join(",")')" "1,src/main.c,7"
call code_grep '{"pattern":"ELF"}'
expect_eq "code_grep skips binary files" "$(sc '[.count, (.files_skipped >= 1)] | join(",")')" "0,true"
refused "code_grep an invalid regex: refused" code_grep '{"pattern":"(unclosed"}' 'not a valid POSIX extended regular expression'
bad code_grep '{"pattern":"x","max_results":0}' /max_results minimum
bad code_grep '{}' /pattern required

# --- code_list, code_tree, code_stat ---------------------------------------------------------------
call code_list '{}'
expect_eq "code_list .: names sorted, with types" "$(sc '.entries | map("\(.name):\(.type)") | join(" ")')" "bin.dat:file docs:dir n1.txt:file n2.txt:file src:dir"
call code_list '{"path":"src"}'
expect_eq "code_list src: sizes" "$(sc '.entries | map("\(.name):\(.size)") | join(" ")')" "main.c:$(stat -c %s "$WS/src/main.c") util.h:$(stat -c %s "$WS/src/util.h")"
call code_list '{"max_entries":2}'
expect_eq "code_list max_entries 2: truncated" "$(sc '[.count, .truncated] | join(",")')" "2,true"
refused "code_list a file: refused" code_list '{"path":"src/main.c"}' 'is a file, not a directory'
bad code_list '{"max_entries":0}' /max_entries minimum
bad code_list '{"path":5}' /path type
mkdir -p "$WS/deep/a/b/c"; touch "$WS/deep/a/b/c/leaf.txt"
call code_tree '{"path":"deep"}'
expect_eq "code_tree deep (depth 3): paths relative to the workspace" "$(sc '.entries | map("\(.path)@\(.depth)") | join(" ")')" "deep/a@1 deep/a/b@2 deep/a/b/c@3"
call code_tree '{"path":"deep","depth":5}'
expect_eq "code_tree depth 5 reaches the leaf" "$(sc '.entries[-1].path')" "deep/a/b/c/leaf.txt"
call code_tree '{"max_entries":3}'
expect_eq "code_tree max_entries 3: truncated" "$(sc '[.count, .truncated] | join(",")')" "3,true"
bad code_tree '{"depth":0}' /depth minimum
bad code_tree '{"depth":21}' /depth maximum
# code_glob against bash's own globbing (globstar; no dotglob, so names with a leading '.' need it spelt).
G=$WS/g
mkdir -p "$G/src/lib/deep/x" "$G/.hidden" "$G/docs"
for f in src/main.c src/lib/util.c src/lib/util.h src/lib/deep/x/y.c README.md .hidden/secret.c src/.cache.c test_a.c docs/test_b.h; do
  printf '%s\n' "$f" > "$G/$f"
done
# (eval: brace groups are expanded before globbing, as for a typed command; the patterns are this file's own.)
bash_glob() { (cd "$G" && shopt -s globstar nullglob && eval "for f in $1; do [ -f \"\$f\" ] && [ ! -L \"\$f\" ] && echo \"g/\$f\"; done" |
  LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'); }
globbed() { sc '.files | map(.path) | join(" ")'; }
for pat in '**/*.c' 'src/**/*.c' 'src/lib/*.{c,h}' '**/test_*.{c,h}' '.hidden/*' '**/.*.c' '*' 'src/*/deep/**' 'nothing*'; do
  call code_glob "$(jq -cn --arg p "$pat" '{pattern:$p, path:"g"}')"
  expect_eq "code_glob g '$pat': the files bash's globstar finds" "$(globbed)" "$(bash_glob "$pat")"
done
call code_glob '{"pattern":"**/*.c","path":"g"}'
expect_eq "  ... sorted by path, matched = count" "$(sc '(.files | map(.path)) as $p | [$p == ($p | sort), .matched == .count, .truncated] | join(",")')" "true,true,false"
expect_eq "  ... size and modified as stat says" "$(sc '.files[] | select(.path == "g/src/main.c") | [.size, .modified] | join(",")')" \
  "$(stat -c %s,%Y "$G/src/main.c")"
touch -d '2001-01-01' "$G/src/main.c"; touch -d '2002-01-01' "$G/test_a.c"; touch -d '2003-01-01' "$G/src/lib/util.c"
call code_glob '{"pattern":"**/*.c","path":"g","sort":"newest","max_results":2.0}'
expect_eq "code_glob sort newest, max_results 2.0: the two newest, truncated, all matched counted" \
  "$(sc '[(.files | map(.path) | join(" ")), .count, .matched, .truncated] | join(",")')" \
  "$(cd "$WS" && ls -t g/src/main.c g/test_a.c g/src/lib/util.c g/src/lib/deep/x/y.c | head -2 | tr '\n' ' ' | sed 's/ $//'),2,4,true"
call code_glob '{"pattern":"./src//main.c","path":"g"}'
expect_eq "code_glob ./ and // in the pattern are plain steps" "$(globbed)" g/src/main.c
call code_glob '{"pattern":"*.txt"}'
expect_eq "code_glob without path: from the workspace root, one level" "$(globbed)" "$(cd "$WS" && ls -1 -- *.txt | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')"
refused "code_glob an absolute pattern: refused" code_glob '{"pattern":"/etc/*"}' "cannot start with '/'"
refused "code_glob a pattern climbing with ..: refused" code_glob '{"pattern":"../*"}' "cannot climb with '\.\.'"
refused "code_glob with four **: refused" code_glob '{"pattern":"**/a/**/b/**/c/**/d"}' "more than 3 '\*\*'"
refused "code_glob from a file: refused" code_glob '{"pattern":"*","path":"g/test_a.c"}' 'is a file, not a directory'
refused "code_glob from a missing directory: refused" code_glob '{"pattern":"*","path":"g/none"}' 'does not exist'
bad code_glob '{}' /pattern required
bad code_glob '{"pattern":""}' /pattern minLength
bad code_glob '{"pattern":"*","sort":"size"}' /sort enum
bad code_glob '{"pattern":"*","max_results":0}' /max_results minimum
bad code_glob '{"pattern":5}' /pattern type
refused "code_glob from an absolute path: refused" code_glob '{"pattern":"*","path":"/"}' 'is absolute'
rm -rf "$G"
call code_stat '{"path":"src/util.h"}'
expect_eq "code_stat a file: type, size, mode" "$(sc '[.type, .size, .mode] | join(",")')" "file,$(stat -c %s "$WS/src/util.h"),0$(stat -c %a "$WS/src/util.h")"
expect_match "  ... mtime in UTC" "$(sc .mtime)" '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$'
call code_stat '{"path":"."}'
expect_eq "code_stat the root: a directory, mode 0700" "$(sc '[.type, .mode] | join(",")')" "dir,0700"
refused "code_stat a missing path: refused" code_stat '{"path":"no/such"}' 'does not exist'
bad code_stat '{"path":"src","x":1}' /x additionalProperties

# --- code_move, code_delete --------------------------------------------------------------------------
call code_move '{"from":"n1.txt","to":"nums/one.txt","create_dirs":true}'
good "code_move into a new directory"
expect_eq "  ... moved" "$(sc '[.type, .overwritten] | join(",")'):$([ -e "$WS/nums/one.txt" ] && [ ! -e "$WS/n1.txt" ] && echo yes)" "file,false:yes"
refused "code_move onto an existing file: refused without overwrite" code_move '{"from":"n2.txt","to":"nums/one.txt"}' 'already exists.*overwrite: true'
call code_move '{"from":"n2.txt","to":"nums/one.txt","overwrite":true}'
expect_eq "code_move with overwrite: overwritten" "$(sc .overwritten)" true
refused "code_move a missing file: refused" code_move '{"from":"n2.txt","to":"x.txt"}' "from 'n2.txt' does not exist"
refused "code_move a directory into itself: refused" code_move '{"from":"deep","to":"deep/a/inside"}' 'into itself'
bad code_move '{"from":"a"}' /to required
bad code_move '{"from":"a","to":"b","overwrite":1}' /overwrite type
call code_delete '{"path":"nums/one.txt"}'
expect_eq "code_delete a file" "$(sc '[.type, .removed] | join(",")'):$([ -e "$WS/nums/one.txt" ] || echo gone)" "file,1:gone"
refused "code_delete a directory without recursive: refused" code_delete '{"path":"deep"}' 'is a directory; set recursive: true'
call code_delete '{"path":"deep","recursive":true}'
expect_eq "code_delete recursive: 5 entries removed" "$(sc '[.type, .removed] | join(",")'):$([ -e "$WS/deep" ] || echo gone)" "dir,5:gone"
refused "code_delete a missing path: refused" code_delete '{"path":"deep"}' 'does not exist'
bad code_delete '{"path":"x","recursive":"yes"}' /recursive type
bad code_delete '{}' /path required

# --- the sandbox under attack ----------------------------------------------------------------------
mkdir -p "$OUT/sub"
echo "the secret" > "$OUT/secret.txt"; echo "keep me" > "$OUT/sub/keep.txt"
fingerprint() { (cd "$OUT" && find . -printf '%p %y %s %m %T@\n' | sort && find . -type f -exec sha256sum {} + | sort) | sha256sum; }
FP=$(fingerprint)
ln -s "$OUT" "$WS/out"                      # to a sibling directory outside the workspace
ln -s /etc "$WS/etc"                        # to /etc
ln -s "$OUT/secret.txt" "$WS/outfile"       # to a file outside
ln -s "../../code-outside" "$WS/rel_escape" # relative, climbing out
ln -s "$OUT/created-through-link" "$WS/dangling"
ETCPROBE=tf-code-test-$$-probe

refused "read ../../etc/passwd: refused" code_read '{"path":"../../etc/passwd"}' "contains a '\.\.' component"
refused "read a/../../x: refused" code_read '{"path":"a/../../x"}' "'\.\.' component"
refused "write ../escape.txt: refused" code_write '{"path":"../escape.txt","content":"x"}' "'\.\.' component"
refused "write src/../../../escape.txt: refused" code_write '{"path":"src/../../../escape.txt","content":"x","create_dirs":true}' "'\.\.' component"
refused "read /etc/passwd: refused (absolute)" code_read '{"path":"/etc/passwd"}' 'is absolute'
refused "write an absolute path: refused" code_write "{\"path\":\"/etc/$ETCPROBE\",\"content\":\"x\"}" 'is absolute'
refused "list an absolute path: refused" code_list '{"path":"/"}' 'is absolute'
refused "move to an absolute path: refused" code_move "{\"from\":\"src/util.h\",\"to\":\"/tmp/$ETCPROBE\"}" "to '/tmp/$ETCPROBE' is absolute"
rpc '{"jsonrpc":"2.0","id":31,"method":"tools/call","params":{"name":"code_write","arguments":{"path":"a\u0000/../../x","content":"x"}}}'
expect_eq "a NUL in a path: refused before any tool runs (JSON with \\u0000 is not accepted: -32700)" "$STATUS $(jqr .error.code)" "400 -32700"
rpc '{"jsonrpc":"2.0","id":31,"method":"tools/call","params":{"name":"code_read","arguments":{"path":"src/main.c\u0000.png"}}}'
expect_eq "  ... also in a read" "$STATUS $(jqr .error.code)" "400 -32700"
LONG=$(printf 'a%.0s' $(seq 1 300))
refused "a 300-byte name: refused" code_write "{\"path\":\"$LONG\",\"content\":\"x\"}" 'longer than 255 bytes'
bad code_read "{\"path\":\"$(printf 'a/%.0s' $(seq 1 2100))\"}" /path maxLength

BIG=$(head -c $((CAP + 1)) /dev/zero | tr '\0' 'x')
refused "write $((CAP + 1)) bytes with a $CAP-byte cap: refused" code_write "{\"path\":\"big.txt\",\"content\":\"$BIG\"}" "over the limit of $CAP bytes"
expect_eq "  ... nothing created" "$([ -e "$WS/big.txt" ] && echo exists || echo absent)" absent
head -c 10000 /dev/zero | tr '\0' 'y' > "$WS/huge.txt"
refused "read a 10000-byte file: refused" code_read '{"path":"huge.txt"}' "is 10000 bytes, over the limit of $CAP bytes"
refused "edit it: refused" code_edit '{"path":"huge.txt","old_string":"y","new_string":"z","replace_all":true}' 'over the limit'
refused "diff it: refused" code_diff '{"a":"huge.txt","b_text":"y"}' 'over the limit'
refused "patch it: refused" code_patch '{"patch":"--- a/huge.txt\n+++ b/huge.txt\n@@ -1 +1 @@\n-y\n+z\n"}' 'over the limit'
call code_grep '{"pattern":"yyy"}'
expect_eq "grep skips it (counted as skipped)" "$(sc '[.count, (.files_skipped >= 2)] | join(",")')" "0,true"
refused "a patch growing a file over the cap: refused" code_patch "$(jq -cn --arg b "${BIG:0:3000}" '{patch:("--- a/src/util.h\n+++ b/src/util.h\n@@ -1 +1,3 @@\n long add(long a, long b);\n+" + $b + "\n+" + $b + "\n")}')" 'over the limit'

refused "read through a symlink to a sibling directory: refused" code_read '{"path":"out/secret.txt"}' 'leads outside your workspace'
refused "read a symlink to a file outside: refused" code_read '{"path":"outfile"}' 'leads outside your workspace'
refused "read etc/passwd through a symlink to /etc: refused" code_read '{"path":"etc/passwd"}' 'leads outside your workspace'
refused "read through a relative symlink climbing out: refused" code_read '{"path":"rel_escape/secret.txt"}' 'leads outside your workspace'
refused "write through the symlink to the sibling: refused" code_write '{"path":"out/new.txt","content":"x"}' 'leads outside your workspace'
refused "  ... with create_dirs: refused" code_write '{"path":"out/deep/new.txt","content":"x","create_dirs":true}' 'leads outside your workspace'
refused "write through the symlink to /etc: refused" code_write "{\"path\":\"etc/$ETCPROBE\",\"content\":\"x\"}" 'leads outside your workspace'
refused "write onto a symlink to a file outside: refused" code_write '{"path":"outfile","content":"pwned"}' 'is a symlink'
refused "write onto a dangling symlink pointing outside: refused" code_write '{"path":"dangling","content":"pwned"}' 'is a symlink'
refused "edit through a symlink: refused" code_edit '{"path":"outfile","old_string":"secret","new_string":"pwned"}' 'leads outside your workspace'
refused "list through a symlink to the sibling: refused" code_list '{"path":"out"}' 'leads outside your workspace'
refused "list /etc through a symlink: refused" code_list '{"path":"etc"}' 'leads outside your workspace'
refused "tree through a symlink: refused" code_tree '{"path":"rel_escape"}' 'leads outside your workspace'
refused "grep through a symlink: refused" code_grep '{"pattern":"secret","path":"out"}' 'leads outside your workspace'
call code_grep '{"pattern":"secret|root:"}'
expect_eq "grep of the whole workspace does not follow symlinks out" "$(sc .count)" 0
call code_tree '{"depth":5}'
expect_eq "tree shows the symlinks, enters none" "$(sc '[(.entries | map(select(.type == "symlink")) | length), (.entries | map(select(.path | test("^(out|etc|rel_escape)/"))) | length)] | join(",")')" "5,0"
call code_glob '{"pattern":"**"}'
expect_eq "glob ** of the whole workspace lists no symlink and nothing behind one" \
  "$(sc '[(.files | map(select(.path | test("^(out|etc|outfile|rel_escape|dangling)(/|$)"))) | length), .count > 0] | join(",")')" "0,true"
call code_glob '{"pattern":"out/*"}'
expect_eq "glob out/* (a symlink to the sibling): nothing" "$(sc .count)" 0
refused "glob from a symlink out: refused" code_glob '{"pattern":"*","path":"out"}' 'leads outside your workspace'
refused "stat through a symlink: refused" code_stat '{"path":"out/secret.txt"}' 'leads outside your workspace'
call code_stat '{"path":"out"}'
expect_eq "stat of the symlink itself: a symlink, with its target" "$(sc '[.type, .target] | join(",")')" "symlink,$OUT"
refused "diff through a symlink: refused" code_diff '{"a":"outfile","b_text":"x"}' 'leads outside your workspace'
refused "move a file out of the sibling through the symlink: refused" code_move '{"from":"out/secret.txt","to":"stolen.txt"}' "from 'out/secret.txt' leads outside"
refused "move a file into the sibling through the symlink: refused" code_move '{"from":"src/util.h","to":"out/util.h"}' "to 'out/util.h' leads outside"
refused "move into /etc through the symlink: refused" code_move "{\"from\":\"src/util.h\",\"to\":\"etc/$ETCPROBE\",\"create_dirs\":true}" 'leads outside'
refused "delete through the symlink: refused" code_delete '{"path":"out/secret.txt"}' 'leads outside your workspace'
refused "recursive delete through the symlink: refused" code_delete '{"path":"out/sub","recursive":true}' 'leads outside your workspace'
SUM=$(sha256sum < "$WS/src/util.h")
refused "a patch whose second file is reached through a symlink: refused" code_patch \
  '{"patch":"--- a/src/util.h\n+++ b/src/util.h\n@@ -1 +1 @@\n-long add(long a, long b);\n+long add(long x, long y);\n--- a/out/secret.txt\n+++ b/out/secret.txt\n@@ -1 +1 @@\n-the secret\n+pwned\n"}' \
  'leads outside your workspace.*nothing was changed'
expect_eq "  ... and its first file is unchanged" "$(sha256sum < "$WS/src/util.h")" "$SUM"
refused "a patch naming ../ paths: refused" code_patch '{"patch":"--- a/../x\n+++ b/../x\n@@ -0,0 +1 @@\n+x\n"}' "'\.\.' component"
refused "a patch naming /etc: refused" code_patch "{\"patch\":\"--- /dev/null\\n+++ /etc/$ETCPROBE\\n@@ -0,0 +1 @@\\n+x\\n\"}" 'is absolute'
refused "delete the workspace root: refused" code_delete '{"path":".","recursive":true}' 'workspace root itself'
refused "  ... as ./ too: refused" code_delete '{"path":"./","recursive":true}' 'workspace root itself'
refused "move the workspace root: refused" code_move '{"from":".","to":"elsewhere"}' 'workspace root itself cannot be moved'
refused "move something over the root: refused" code_move '{"from":"src","to":"."}' 'workspace root itself cannot be moved'
call code_delete '{"path":"out","recursive":true}'
expect_eq "delete the symlink to the sibling: the link goes, nothing behind it" "$(sc '[.type, .removed] | join(",")'):$([ -L "$WS/out" ] && echo link || echo nolink):$(cat "$OUT/secret.txt")" "symlink,1:nolink:the secret"
call code_move '{"from":"etc","to":"etc2"}'
expect_eq "move the symlink to /etc: moved as a link, /etc untouched" "$(sc .type):$(readlink "$WS/etc2"):$([ -d /etc ] && echo etc-ok)" "symlink:/etc:etc-ok"

expect_eq "the outside directory is exactly as before (fingerprint of names, sizes, modes, mtimes, contents)" "$(fingerprint)" "$FP"
expect_eq "nothing was created outside: escape files, /etc and /tmp probes" \
  "$(ls "$WSROOT/escape.txt" "$TF_TMP/escape.txt" "$OUT/created-through-link" "$OUT/new.txt" "/etc/$ETCPROBE" "/tmp/$ETCPROBE" 2>/dev/null | wc -l)" 0
expect_eq "no temporary files are left in the workspace" "$(find "$WS" -name '.tf-*' | wc -l)" 0

# --- names and text that are not UTF-8 (made outside the tools) ----------------------------------------
touch "$WS/$(printf 'bad\377name.txt')"
call code_list '{}'
expect_contains "a file name that is not UTF-8 is listed, its bad byte as ?" "$(sc '.entries | map(.name) | join(" ")')" "bad?name.txt"
printf 'caf\351\n' > "$WS/latin1.txt"
refused "a patch against a Latin-1 line: refused with a readable message" code_patch '{"patch":"--- a/latin1.txt\n+++ b/latin1.txt\n@@ -1 +1 @@\n-cafe\n+coffee\n"}' 'line 1 is "caf\?"'
rm -f "$WS/$(printf 'bad\377name.txt')" "$WS/latin1.txt"

# --- clients that leave mid-search --------------------------------------------------------------------
# Their jobs are cancelled (the worker's result is dropped and freed); under ASan a use after free or a
# leak would show at shutdown.
mkdir -p "$WS/many"
for i in $(seq 1 2000); do printf 'line %s needle\n' "$i" > "$WS/many/f$i.txt"; done
N499=$(grep -c '"status":499' "$TF_LOG")
for t in 0.004 0.006 0.008 0.010 0.012 0.014 0.016 0.020; do # h2: the server sees the client go at once
  curl -s --http2-prior-knowledge -m $t -o /dev/null -X POST "${H[@]}" -H "Authorization: Bearer $TOK" -H "mcp-session-id: $SID" \
    -H 'mcp-protocol-version: 2025-11-25' \
    --data '{"jsonrpc":"2.0","id":40,"method":"tools/call","params":{"name":"code_grep","arguments":{"pattern":"needle","max_results":1000}}}' "$MCP"
done
call code_grep '{"pattern":"needle","path":"many","max_results":1000}'
expect_eq "after clients left mid-search, the next search answers in full" "$(sc '[.count, .truncated] | join(",")')" "1000,true"
expect_eq "  ... and the server is healthy" "$(health_code)" 200
echo "# clients gone before the answer (499): $(( $(grep -c '"status":499' "$TF_LOG") - N499 )) of 8"

# --- another user has another workspace -----------------------------------------------------------
mesh_user registered
TOK=$U_TOKEN SID= 
rpc '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
SID=$(header mcp-session-id)
call code_list '{}'
expect_eq "another user sees an empty workspace of their own" "$(sc .count)" 0
refused "  ... and cannot read the first user's files" code_read '{"path":"src/main.c"}' 'does not exist'
