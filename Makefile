# migrate-src / migrate-dst: live migration of runC containers with CRIU.
#
#   make            build both tools
#   make test       install what is missing (scripts/install-deps), build, run every test
#   make demo       migrate a live container between two simulated hosts on this machine
#   make install    PREFIX=/usr/local DESTDIR=
#   make fuzz       libFuzzer on the control-message decoder for FUZZ_SECONDS (default 60)
#   make SANITIZE=1 BUILD=build-asan all unit-bins
#                   a separate ASan + UBSan tree (build-asan is the default with SANITIZE=1)

VERSION    := 0.1.0
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
CC         ?= cc
PKG_CONFIG ?= pkg-config
GIT_REV    := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

DEPS_CFLAGS := $(shell $(PKG_CONFIG) --cflags libssh libcjson libcrypto 2>/dev/null)
DEPS_LIBS   := $(shell $(PKG_CONFIG) --libs libssh libcjson libcrypto 2>/dev/null)

CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wformat=2 \
           -Iinclude $(DEPS_CFLAGS) -DMIG_VERSION='"$(VERSION)"' -DMIG_GIT_REV='"$(GIT_REV)"'
LDLIBS  += $(DEPS_LIBS)

# SANITIZE=1: ASan + UBSan; any UBSan error is fatal (-fno-sanitize-recover=all).  Builds go
# to their own tree (build-asan unless BUILD is given): objects are not rebuilt when only the
# flags change, so sanitized and plain objects must never share a directory.
ifeq ($(SANITIZE),1)
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all
CFLAGS  += $(SAN_FLAGS) -fno-omit-frame-pointer
LDFLAGS += $(SAN_FLAGS)
BUILD   := build-asan
else
BUILD   := build
endif
LIB_SRC := $(filter-out src/migrate-src.c src/migrate-dst.c,$(wildcard src/*.c))
LIB_OBJ := $(LIB_SRC:src/%.c=$(BUILD)/%.o)
LIB     := $(BUILD)/libmigrate.a
BINS    := $(BUILD)/migrate-src $(BUILD)/migrate-dst

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
HELPER_SRC := $(wildcard tests/helpers/*.c)
HELPER_BIN := $(HELPER_SRC:tests/helpers/%.c=$(BUILD)/tests/helpers/%)

.PHONY: all test unit unit-bins deps demo install clean format fuzz fuzz-bin

all: $(BINS)

$(BUILD)/%.o: src/%.c $(wildcard include/*.h) | $(BUILD)
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/migrate-%: $(BUILD)/migrate-%.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB) | $(BUILD)/tests
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS) -lcmocka

$(BUILD)/tests/helpers/%: tests/helpers/%.c $(LIB) | $(BUILD)/tests/helpers
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD) $(BUILD)/tests $(BUILD)/tests/helpers:
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

install: $(BINS)
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(BINS) $(DESTDIR)$(BINDIR)/

# --- fuzzing: clang + libFuzzer (Debian 12: clang, libclang-rt-14-dev) ------------------------
# The sources the target needs are compiled here with clang (coverage + ASan + UBSan), apart
# from $(BUILD)/*.o.  The fuzzer runs on a working copy of tests/fuzz/corpus in
# $(FUZZ_DIR)/corpus (kept between runs; new seeds are added to it); crashing inputs land in
# $(FUZZ_DIR)/artifacts/.  Reproduce one with: $(FUZZ_DIR)/fuzz_proto FILE
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_MAX_LEN ?= 70000
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_SAN     := address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS  := -O1 -g -fno-omit-frame-pointer -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow \
                -Iinclude $(DEPS_CFLAGS) -DMIG_VERSION='"$(VERSION)"' -DMIG_GIT_REV='"$(GIT_REV)"'
FUZZ_LIB_SRC := src/proto.c src/err.c
FUZZ_LIB_OBJ := $(FUZZ_LIB_SRC:src/%.c=$(FUZZ_DIR)/%.o)

$(FUZZ_DIR)/%.o: src/%.c $(wildcard include/*.h) | $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -c -o $@ $<

$(FUZZ_DIR)/fuzz_proto: tests/fuzz/fuzz_proto.c $(FUZZ_LIB_OBJ) $(wildcard include/*.h) | $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer,$(FUZZ_SAN) -o $@ $< $(FUZZ_LIB_OBJ) $(DEPS_LIBS)

$(FUZZ_DIR):
	mkdir -p $@

fuzz-bin: $(FUZZ_DIR)/fuzz_proto

# Exits non-zero when libFuzzer finds a crash, a leak, a sanitizer error or a slow input.
fuzz: $(FUZZ_DIR)/fuzz_proto
	mkdir -p $(FUZZ_DIR)/corpus $(FUZZ_DIR)/artifacts
	cp -n tests/fuzz/corpus/* $(FUZZ_DIR)/corpus/
	$(FUZZ_DIR)/fuzz_proto -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAX_LEN) \
		-timeout=10 -dict=tests/fuzz/proto.dict -artifact_prefix=$(FUZZ_DIR)/artifacts/ \
		-print_final_stats=1 $(FUZZ_DIR)/corpus

format:
	clang-format -i src/*.c include/*.h tests/unit/*.c tests/fuzz/*.c

clean:
	rm -rf $(BUILD) build-asan
.SECONDARY:
