# tf_usage against the suite's PostgreSQL (migrated by the running server):
# daily token limits, free ollama/ models for pro, hourly request rates.
. "$TF_ROOT/tests/lib.sh"
OUT=$TF_TMP/usage_probe
SANF=""; [ "$TF_PASS" = asan ] && SANF="-fsanitize=address,undefined -fno-omit-frame-pointer"
cc -std=gnu11 -g -O1 $SANF -DH2O_USE_LIBUV=0 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wstrict-prototypes \
  -I"$TF_ROOT/runtime" -I"$TF_ROOT/generated" $(pkg-config --cflags libpq) -o "$OUT" "$TF_ROOT/tests/unit/usage_probe.c" \
  "$TF_ROOT/runtime/tf_usage.c" "$TF_ROOT/runtime/tf_db.c" "$TF_ROOT/runtime/tf_log.c" "$TF_ROOT/runtime/tf_utf8.c" -lh2o-evloop -lpq -lssl -lcrypto -lz -lpthread \
  || { echo "not ok 1 - usage_probe builds"; exit 0; }
"$OUT" "$TRIFORCE_DATABASE_URL"
