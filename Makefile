# TriForce - multi-LLM gateway.
#
#   make run     install what is missing, start PostgreSQL under var/, migrate, serve
#   make test    the whole suite, then again under ASan+UBSan
#   make bench   h2load figures
#
# Generated code lives in generated/ and is committed; it is rebuilt only when
# spec/ or the generator changes (see the generate target).

SHELL := /bin/bash
CC ?= cc
PKGS := libh2o-evloop libcurl jansson libjwt libpq libcyaml yaml-0.1 libsodium openssl

# Recursive (=) on purpose: pkg-config runs after `make deps` installed the packages.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS = $(shell pkg-config --libs $(PKGS)) -lssl -lcrypto -lz -lpthread -lm

WARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wstrict-prototypes
BASE_CFLAGS = -std=gnu11 -g $(WARN) -DH2O_USE_LIBUV=0 -D_GNU_SOURCE -Iruntime -Igenerated $(PKG_CFLAGS)
OPT_CFLAGS := -O2
SAN_CFLAGS := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined

B ?= build
ifeq ($(SAN),1)
B := build-asan
OPT_CFLAGS := $(SAN_CFLAGS)
SAN_LDFLAGS := -fsanitize=address,undefined
endif

CFLAGS_ALL = $(BASE_CFLAGS) $(OPT_CFLAGS) $(EXTRA_CFLAGS)

SPECS := $(shell find spec -name '*.yaml' 2>/dev/null | LC_ALL=C sort)
API_SRC := $(sort $(wildcard runtime/api/*.c))
RT_SRC := $(sort $(wildcard runtime/*.c))
TOOLS_SRC := $(sort $(wildcard tools/*.c))
CODEGEN_SRC := $(sort $(wildcard codegen/*.c))
# The generator's C output; tf_routes.c comes from tf_routes.re through re2c.
GEN_SRC = $(sort $(wildcard generated/*.c))

TRIFORCE := $(B)/triforce
CODEGEN := build/tf-codegen

.PHONY: all deps build generate check-generated run test test-unit test-integration bench clean distclean pg-start pg-stop

all: build

deps:
	@scripts/deps.sh

# --- code generation ----------------------------------------------------

# The generator shares the YAML line index with the runtime's conf loader.
CODEGEN_SHARED := runtime/tf_yaml_lines.c
$(CODEGEN): $(CODEGEN_SRC) $(CODEGEN_SHARED) $(wildcard codegen/*.h) runtime/tf_spec.h runtime/tf_yaml_lines.h
	@mkdir -p build
	$(CC) -std=gnu11 -O1 -g $(WARN) -D_GNU_SOURCE -Iruntime -Icodegen $(shell pkg-config --cflags libcyaml yaml-0.1 jansson) \
	  -o $@ $(CODEGEN_SRC) $(CODEGEN_SHARED) $(shell pkg-config --libs libcyaml yaml-0.1 jansson)

# The stamp keeps `make` from rerunning the generator when nothing changed;
# the generator itself only rewrites files whose contents differ.
build/generated.stamp: $(CODEGEN) $(SPECS) $(API_SRC) $(TOOLS_SRC)
	$(CODEGEN) --spec spec --out generated --handlers runtime/api --tools tools
	@touch $@

generate: build/generated.stamp

# Fails when generated/ is not what the generator makes of spec/ (curl test 1276, redis CI).
check-generated: $(CODEGEN)
	@tmp=$$(mktemp -d) && $(CODEGEN) --spec spec --out $$tmp --handlers runtime/api --tools tools >/dev/null && \
	  if diff -r -x '*.stamp' generated $$tmp; then echo "generated/ is up to date"; rm -rf $$tmp; \
	  else echo "generated/ is out of date with spec/: run make and commit generated/"; rm -rf $$tmp; exit 1; fi

# --- the server ------------------------------------------------------------

OBJS = $(patsubst %.c,$(B)/obj/%.o,$(RT_SRC) $(API_SRC) $(TOOLS_SRC) $(GEN_SRC))

$(B)/obj/%.o: %.c build/generated.stamp
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c -o $@ $<

# Two steps: generate first, then a fresh make that sees the generated
# sources (their list is read when make starts) and relinks on any change.
build: build/generated.stamp
	@$(MAKE) --no-print-directory B=$(B) SAN=$(SAN) binary

.PHONY: binary
binary: $(TRIFORCE)

$(TRIFORCE): $(OBJS)
	$(CC) $(SAN_LDFLAGS) -o $@ $(OBJS) $(PKG_LIBS)

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)

# --- running ---------------------------------------------------------------

run: deps
	@$(MAKE) --no-print-directory build
	@scripts/pg.sh start var/pg
	@[ -s var/jwt_secret ] || (umask 077; head -c 48 /dev/urandom | base64 -w0 > var/jwt_secret)
	@TRIFORCE_DATABASE_URL="$$(scripts/pg.sh url var/pg)" TRIFORCE_JWT_SECRET="$$(cat var/jwt_secret)" \
	  exec $(TRIFORCE) --conf conf/triforce.yaml

pg-start:
	@scripts/pg.sh start var/pg
pg-stop:
	@scripts/pg.sh stop var/pg

# --- tests -----------------------------------------------------------------

test: deps
	@$(MAKE) --no-print-directory build $(CODEGEN)
	@$(MAKE) --no-print-directory SAN=1 build
	@tests/run.sh

bench: deps
	@$(MAKE) --no-print-directory build
	@s=0; tests/bench/run.sh || s=1; tests/bench/auth.sh || s=1; tests/bench/chat.sh || s=1; tests/bench/mcp.sh || s=1; exit $$s

clean:
	rm -rf build build-asan

distclean: clean
	-scripts/pg.sh stop var/pg
	rm -rf var
