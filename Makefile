# migrate-src / migrate-dst: live migration of runC containers with CRIU.
#
#   make            build both tools
#   make test       install what is missing (scripts/install-deps), build, run every test
#   make demo       migrate a live container between two simulated hosts on this machine
#   make bench      downtime benchmark against the seed's way (as root; BENCH_ARGS=... for
#                   bench/run's options; see docs/performance.md)
#   make install    PREFIX=/usr/local DESTDIR=   (and make uninstall, with the same variables)
#   make fuzz       libFuzzer on the control-message decoder for FUZZ_SECONDS (default 60)
#   make SANITIZE=1 BUILD=build-asan all unit-bins
#                   a separate ASan + UBSan tree (build-asan is the default with SANITIZE=1)

VERSION    := 0.1.0
CC         ?= cc
PKG_CONFIG ?= pkg-config

# --version prints VERSION and the git revision of the build.  Outside a git checkout (a
# tarball) it is "unknown": .git is looked for here, so a tarball unpacked inside some other
# repository does not report that one's revision.  Packagers may set GIT_REV themselves.
ifeq ($(origin GIT_REV),undefined)
GIT_REV := $(shell [ -e .git ] && git rev-parse --short HEAD 2>/dev/null)
endif
ifeq ($(strip $(GIT_REV)),)
override GIT_REV := unknown
endif

# make install: where things go (all below DESTDIR, for staging and packages).
#   BINDIR       migrate-src, migrate-dst
#   MANDIR       man1/migrate-src.1, man1/migrate-dst.1
#   BASHCOMPDIR  bash-completion's completions/migrate-src, migrate-dst (loaded on demand)
#   UNITDIR      migrate-dst.service, its ExecStart pointing at BINDIR: /lib/systemd/system
#                for PREFIX=/usr (Debian's place for packaged units), else
#                PREFIX/lib/systemd/system (/usr/local/lib/systemd/system is on systemd's
#                search path; for other prefixes give UNITDIR=/etc/systemd/system)
#   CONFDIR      /etc/migrate-dst, whatever PREFIX: migrate-dst.conf (never overwritten) and
#                the token migrate-dst creates.  Mode 0700: the token lives there.  (The
#                unit reads the config from here; migrate-dst's own default token path
#                stays /etc/migrate-dst/token.)
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ifeq ($(patsubst %/,%,$(PREFIX)),/usr)
UNITDIR     ?= /lib/systemd/system
else
UNITDIR     ?= $(PREFIX)/lib/systemd/system
endif
CONFDIR     := /etc/migrate-dst

DEPS_CFLAGS := $(shell $(PKG_CONFIG) --cflags libssh libcjson libcrypto libzstd 2>/dev/null)
DEPS_LIBS   := $(shell $(PKG_CONFIG) --libs libssh libcjson libcrypto libzstd 2>/dev/null)

CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wformat=2 -MMD -MP \
           -Iinclude $(DEPS_CFLAGS) -DMIG_VERSION='"$(VERSION)"' -DMIG_GIT_REV='"$(GIT_REV)"'
LDLIBS  += $(DEPS_LIBS)

# SANITIZE=1: ASan + UBSan, and float-cast-overflow, which GCC's "undefined" group leaves
# out: a peer's 1e300 converted to an integer must be caught; any UBSan
# error is fatal (-fno-sanitize-recover=all).  Builds go
# to their own tree (build-asan unless BUILD is given): objects are not rebuilt when only the
# flags change, so sanitized and plain objects must never share a directory.
ifeq ($(SANITIZE),1)
SAN_FLAGS := -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all
CFLAGS  += $(SAN_FLAGS) -fno-omit-frame-pointer
LDFLAGS += $(SAN_FLAGS)
BUILD   := build-asan
else
BUILD   := build
endif

# Three rooms (docs/design.md): src/common (what both sides use; public headers in
# include/), src/source (migrate-src), src/destination (migrate-dst).  Each is a library; a
# side's private headers sit next to its files, found first by #include "...".  The mains
# (src/*/main.c) only parse, wire and print.
ROOMS       := common source destination
room_src     = $(filter-out src/$(1)/main.c,$(wildcard src/$(1)/*.c))
room_obj     = $(patsubst src/%.c,$(BUILD)/%.o,$(call room_src,$(1)))
LIB_COMMON  := $(BUILD)/libcommon.a
LIB_SOURCE  := $(BUILD)/libsource.a
LIB_DEST    := $(BUILD)/libdestination.a
BINS        := $(BUILD)/migrate-src $(BUILD)/migrate-dst
ALL_OBJ     := $(foreach r,$(ROOMS),$(call room_obj,$(r))) \
               $(BUILD)/source/main.o $(BUILD)/destination/main.o

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
HELPER_SRC := $(wildcard tests/helpers/*.c)
HELPER_BIN := $(HELPER_SRC:tests/helpers/%.c=$(BUILD)/tests/helpers/%)
# Unit tests reach a side's private headers as "source/x.h" and "destination/x.h".
TEST_CFLAGS := -Isrc

.PHONY: all test unit unit-bins deps demo bench install uninstall clean format fuzz fuzz-bin FORCE

all: $(BINS)

$(BUILD)/%.o: src/%.c | $(BUILD)/common $(BUILD)/source $(BUILD)/destination
	$(CC) $(CFLAGS) -c -o $@ $<

-include $(ALL_OBJ:.o=.d) $(UNIT_BIN:=.d) $(HELPER_BIN:=.d)

# mig.o embeds GIT_REV (--version): rebuilt when the revision changes, not only mig.c.
$(BUILD)/git-rev: FORCE | $(BUILD)
	@echo '$(GIT_REV)' | cmp -s - $@ || echo '$(GIT_REV)' >$@
$(BUILD)/common/mig.o: $(BUILD)/git-rev

$(LIB_COMMON): $(call room_obj,common)
	$(AR) rcs $@ $^
$(LIB_SOURCE): $(call room_obj,source)
	$(AR) rcs $@ $^
$(LIB_DEST): $(call room_obj,destination)
	$(AR) rcs $@ $^

$(BUILD)/migrate-src: $(BUILD)/source/main.o $(LIB_SOURCE) $(LIB_COMMON)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/migrate-dst: $(BUILD)/destination/main.o $(LIB_DEST) $(LIB_COMMON)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

TEST_LIBS := $(LIB_SOURCE) $(LIB_DEST) $(LIB_COMMON)
$(BUILD)/tests/%: tests/unit/%.c $(TEST_LIBS) | $(BUILD)/tests
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -MF $@.d $(LDFLAGS) -o $@ $< $(TEST_LIBS) $(LDLIBS) -lcmocka

$(BUILD)/tests/helpers/%: tests/helpers/%.c $(LIB_COMMON) | $(BUILD)/tests/helpers
	$(CC) $(CFLAGS) -MF $@.d $(LDFLAGS) -o $@ $< $(LIB_COMMON) $(LDLIBS)

$(BUILD) $(BUILD)/common $(BUILD)/source $(BUILD)/destination $(BUILD)/tests $(BUILD)/tests/helpers:
	mkdir -p $@

deps:
	@if [ "$$(id -u)" -eq 0 ]; then scripts/install-deps; \
	else echo "make: not root: skipping scripts/install-deps (run it as root once)"; fi

# One command on a fresh Debian 12 machine, as root: installs, builds, runs every suite.
test: deps
	$(MAKE) all unit-bins
	tests/run-all

unit-bins: $(UNIT_BIN) $(HELPER_BIN)

unit: unit-bins
	tests/run-unit

demo: deps
	$(MAKE) all
	scripts/demo

bench: deps
	$(MAKE) all
	bench/run $(BENCH_ARGS)

MAN_PAGES   := docs/migrate-src.1 docs/migrate-dst.1
COMPLETIONS := completions/migrate-src completions/migrate-dst

install: $(BINS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR) \
		$(DESTDIR)$(UNITDIR)
	install -m 0755 $(BINS) $(DESTDIR)$(BINDIR)/
	install -m 0644 $(MAN_PAGES) $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(COMPLETIONS) $(DESTDIR)$(BASHCOMPDIR)/
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@CONFDIR@|$(CONFDIR)|g' dist/migrate-dst.service.in \
		>$(BUILD)/migrate-dst.service
	install -m 0644 $(BUILD)/migrate-dst.service $(DESTDIR)$(UNITDIR)/migrate-dst.service
	@[ -d $(DESTDIR)$(CONFDIR) ] || install -d -m 0700 $(DESTDIR)$(CONFDIR)
	@if [ -e $(DESTDIR)$(CONFDIR)/migrate-dst.conf ]; then \
		echo "install: keeping $(DESTDIR)$(CONFDIR)/migrate-dst.conf (see dist/migrate-dst.conf for the new one)"; \
	else \
		echo "install -m 0644 dist/migrate-dst.conf $(DESTDIR)$(CONFDIR)/migrate-dst.conf"; \
		install -m 0644 dist/migrate-dst.conf $(DESTDIR)$(CONFDIR)/migrate-dst.conf; \
	fi

# Leaves CONFDIR alone: migrate-dst.conf may have been edited, and the token is a secret
# that sources may hold copies of.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/migrate-src $(DESTDIR)$(BINDIR)/migrate-dst \
		$(DESTDIR)$(MANDIR)/man1/migrate-src.1 $(DESTDIR)$(MANDIR)/man1/migrate-dst.1 \
		$(DESTDIR)$(BASHCOMPDIR)/migrate-src $(DESTDIR)$(BASHCOMPDIR)/migrate-dst \
		$(DESTDIR)$(UNITDIR)/migrate-dst.service
	@echo "uninstall: $(DESTDIR)$(CONFDIR) (migrate-dst.conf, token) left in place"

# --- fuzzing: clang + libFuzzer (Debian 12: clang, libclang-rt-14-dev) ------------------------
# The sources the target needs are compiled here with clang (coverage + ASan + UBSan), apart
# from $(BUILD)/*.o.  The fuzzer runs on a working copy of tests/fuzz/corpus in
# $(FUZZ_DIR)/corpus (kept between runs; new seeds are added to it); crashing inputs land in
# $(FUZZ_DIR)/artifacts/.  Reproduce one with: $(FUZZ_DIR)/fuzz_proto FILE
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_STATS_SECONDS ?= 20
FUZZ_MAX_LEN ?= 70000
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_SAN     := address,undefined,float-cast-overflow -fno-sanitize-recover=all
FUZZ_CFLAGS  := -O1 -g -fno-omit-frame-pointer -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow \
                -Iinclude $(DEPS_CFLAGS) -DMIG_VERSION='"$(VERSION)"' -DMIG_GIT_REV='"$(GIT_REV)"'
FUZZ_LIB_SRC := src/common/proto.c src/common/err.c src/common/stats.c src/common/auth.c \
                src/common/text.c src/common/fs.c src/common/mig.c
FUZZ_LIB_OBJ := $(FUZZ_LIB_SRC:src/common/%.c=$(FUZZ_DIR)/%.o)

$(FUZZ_DIR)/%.o: src/common/%.c $(wildcard include/*.h) | $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -c -o $@ $<

$(FUZZ_DIR)/fuzz_proto: tests/fuzz/fuzz_proto.c $(FUZZ_LIB_OBJ) $(wildcard include/*.h) | $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer,$(FUZZ_SAN) -o $@ $< $(FUZZ_LIB_OBJ) $(DEPS_LIBS)

$(FUZZ_DIR):
	mkdir -p $@

$(FUZZ_DIR)/fuzz_stats: tests/fuzz/fuzz_stats.c $(FUZZ_LIB_OBJ) $(wildcard include/*.h) | $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer,$(FUZZ_SAN) -o $@ $< $(FUZZ_LIB_OBJ) $(DEPS_LIBS)

fuzz-bin: $(FUZZ_DIR)/fuzz_proto $(FUZZ_DIR)/fuzz_stats

# Exits non-zero when libFuzzer finds a crash, a leak, a sanitizer error or a slow input.
fuzz: $(FUZZ_DIR)/fuzz_proto $(FUZZ_DIR)/fuzz_stats
	mkdir -p $(FUZZ_DIR)/corpus $(FUZZ_DIR)/corpus-stats $(FUZZ_DIR)/artifacts
	cp -n tests/fuzz/corpus/* $(FUZZ_DIR)/corpus/
	for f in tests/unit/data/criu-*/stats-*; do \
		cp -n "$$f" "$(FUZZ_DIR)/corpus-stats/$$(basename $$(dirname $$f))-$$(basename $$f)"; \
	done
	$(FUZZ_DIR)/fuzz_proto -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAX_LEN) \
		-timeout=10 -dict=tests/fuzz/proto.dict -artifact_prefix=$(FUZZ_DIR)/artifacts/ \
		-print_final_stats=1 $(FUZZ_DIR)/corpus
	$(FUZZ_DIR)/fuzz_stats -max_total_time=$(FUZZ_STATS_SECONDS) -max_len=4096 -timeout=10 \
		-artifact_prefix=$(FUZZ_DIR)/artifacts/stats- -print_final_stats=1 \
		$(FUZZ_DIR)/corpus-stats

format:
	clang-format -i src/*/*.c src/*/*.h include/*.h tests/unit/*.c tests/helpers/*.c tests/fuzz/*.c

clean:
	rm -rf $(BUILD) build-asan
.SECONDARY:
