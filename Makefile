# migrate-src / migrate-dst: live migration of runC containers with CRIU.
#
#   make            build both tools
#   make test       install what is missing (scripts/install-deps), build, run every test
#   make demo       migrate a live container between two simulated hosts on this machine
#   make install    PREFIX=/usr/local DESTDIR=

VERSION    := 0.1.0
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
CC         ?= cc
PKG_CONFIG ?= pkg-config
GIT_REV    := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

DEPS_CFLAGS := $(shell $(PKG_CONFIG) --cflags libssh libcjson 2>/dev/null)
DEPS_LIBS   := $(shell $(PKG_CONFIG) --libs libssh libcjson 2>/dev/null)

CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wformat=2 \
           -Iinclude $(DEPS_CFLAGS) -DMIG_VERSION='"$(VERSION)"' -DMIG_GIT_REV='"$(GIT_REV)"'
LDLIBS  += $(DEPS_LIBS)

ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
endif

BUILD   := build
LIB_SRC := $(filter-out src/migrate-src.c src/migrate-dst.c,$(wildcard src/*.c))
LIB_OBJ := $(LIB_SRC:src/%.c=$(BUILD)/%.o)
LIB     := $(BUILD)/libmigrate.a
BINS    := $(BUILD)/migrate-src $(BUILD)/migrate-dst

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
HELPER_SRC := $(wildcard tests/helpers/*.c)
HELPER_BIN := $(HELPER_SRC:tests/helpers/%.c=$(BUILD)/tests/helpers/%)

.PHONY: all test unit unit-bins deps demo install clean format

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

format:
	clang-format -i src/*.c include/*.h tests/unit/*.c

clean:
	rm -rf $(BUILD)
.SECONDARY:
