# egress - a per-cgroup eBPF egress firewall.
#
#   make            build/egressd, build/egressctl
#   make test       unit and integration tests against the running kernel (root)
#   make run        egressd in the foreground with the embedded default policy (root)
#   make demo       the free and pro tiers end to end, told for a person (root)
#   make install    PREFIX=/usr/local DESTDIR= (binaries, man pages, bash completion)
#   make man        build/man/egressd.8, egressctl.8, egress.policy.5 from man/*.scd
#   make deb        build/deb/egress_<version>_<arch>.deb (DEB_VERSION=... to rebuild as another)
#
# Graph: bpf/*.bpf.c -> build/*.bpf.o -> build/*.skel.h -> build/user/*.o -> binaries.
# V=1 shows the commands.

BUILD   ?= build
PREFIX  ?= /usr/local
DESTDIR ?=
CLANG   ?= clang
CC      ?= cc
BPFTOOL ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
ARCH    ?= $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo 0.1)

PKGS    := libbpf libelf zlib jansson libmicrohttpd libsystemd libcurl libcrypto
CFLAGS  ?= -O2 -g
CFLAGS  += -Wall -Wextra -Wno-unused-parameter -std=gnu11 -Iinclude -Iuser -I$(BUILD) \
	   -DEGRESS_VERSION='"$(VERSION)"' $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LDLIBS  += -pthread
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Iinclude -I$(BUILD)

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

COMMON  := parse options policy cmdline cgroup pins store bindings counters events follow oci advise \
	   policyset_status revoke hits
# egressd's alone: the policy-set sources (libcurl for etcd, libcrypto), kept out of egressctl's start
DAEMON  := egressd loader metrics policyset etcd
COMMON_OBJS := $(COMMON:%=$(BUILD)/user/%.o)
BPF_OBJS := $(BUILD)/egress.bpf.o $(BUILD)/revoke.bpf.o $(BUILD)/hits_zero.bpf.o
SKELS   := $(BUILD)/egress.skel.h $(BUILD)/revoke.skel.h $(BUILD)/hits_zero.skel.h
# test only: the packet parser alone, for build/tests/parser (never loaded by egressd)
TEST_BPF_OBJS := $(BUILD)/test_parser.bpf.o

.PHONY: all clean install test unit run deps deps-test bench fuzz demo man deb image
.DELETE_ON_ERROR:
# the BPF object is an artefact of its own (bpftool, tests), not a throwaway intermediate
.SECONDARY: $(BPF_OBJS) $(TEST_BPF_OBJS)

all: $(BUILD)/egressd $(BUILD)/egressctl

$(BUILD) $(BUILD)/user $(BUILD)/tests:
	$(Q)mkdir -p $@

$(BUILD)/vmlinux.h: | $(BUILD)
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h include/*.h) $(BUILD)/vmlinux.h | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $(@:.o=.tmp.o)
	$(Q)$(BPFTOOL) gen object $@ $(@:.o=.tmp.o)
	$(Q)rm -f $(@:.o=.tmp.o)

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $* > $@

$(BUILD)/user/%.o: user/%.c $(wildcard user/*.h include/*.h) | $(BUILD)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/user/egressd.o $(BUILD)/user/loader.o: $(SKELS)
$(BUILD)/user/revoke.o: $(BUILD)/revoke.skel.h
# revoke.h holds the map value both sides of revoke share
$(BUILD)/revoke.bpf.o: BPF_CFLAGS += -Iuser
$(BUILD)/revoke.bpf.o: user/revoke.h
$(BUILD)/user/hits.o: $(BUILD)/hits_zero.skel.h
# hits_zero.h holds the program's context, shared with hits.c
$(BUILD)/hits_zero.bpf.o: BPF_CFLAGS += -Iuser
$(BUILD)/hits_zero.bpf.o: user/hits_zero.h

$(BUILD)/user/default_policy.o: user/default_policy.S maps/default.policy | $(BUILD)/user
	$(call msg,AS,$@)
	$(Q)$(CC) -c $< -o $@

$(BUILD)/egressd: $(DAEMON:%=$(BUILD)/user/%.o) $(BUILD)/user/default_policy.o $(COMMON_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/egressctl: $(BUILD)/user/egressctl.o $(COMMON_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/egressctl: $(BUILD)/user/explain.o
$(BUILD)/egressd: $(BUILD)/user/explain.o	# hits.c names rules as explain does

# ---- tests ---------------------------------------------------------------
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
UNIT_SRCS := $(wildcard tests/unit/*.c) user/parse.c user/options.c user/policy.c user/cmdline.c user/advise.c
UNIT_SRCS += user/explain.c user/pins.c user/store.c user/bindings.c user/counters.c user/cgroup.c user/oci.c
UNIT_SRCS += user/events.c user/follow.c user/hits.c
# test_events.c answers event_json's policy-info lookups (see its comment)
UNIT_LDFLAGS := -Wl,--wrap=bpf_map_lookup_elem

# test_hooks.c opens the built object (egress.skel.h) to check it against the hook table
$(BUILD)/tests/unit_tests: $(UNIT_SRCS) $(wildcard user/*.h include/*.h) $(BUILD)/egress.skel.h $(BUILD)/hits_zero.skel.h | $(BUILD)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) -O1 -g $(SAN) -Wall -Wextra -Wno-unused-parameter -Iinclude -Iuser -I$(BUILD) -o $@ $(UNIT_SRCS) $(UNIT_LDFLAGS) -lcmocka $(LDLIBS)

$(BUILD)/tests/%: tests/%.c tests/probe-common.h | $(BUILD)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) -O2 -Wall -o $@ $<

# the packet parser's test driver: loads build/test_parser.bpf.o (test only, never installed)
$(BUILD)/tests/parser: tests/parser.c bpf/test_parser.h $(BUILD)/test_parser.skel.h | $(BUILD)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) -O2 -g -Wall -Iinclude -Ibpf -I$(BUILD) -o $@ $< $(LDLIBS)

# bypass is the prober's second entry: tests/bypass.c includes tests/probe.c
$(BUILD)/tests/bypass: tests/probe.c

deps:
	$(Q)sh scripts/deps.sh

deps-test:
	$(Q)sh scripts/deps.sh test

unit: $(BUILD)/tests/unit_tests
	$(Q)$(BUILD)/tests/unit_tests

# Installs what it needs, builds, runs every test; the last line is "N passed, N failed".
test: deps-test
	$(Q)$(MAKE) --no-print-directory all $(BUILD)/tests/unit_tests $(BUILD)/tests/probe \
		$(if $(wildcard tests/bypass.c),$(BUILD)/tests/bypass) $(BUILD)/tests/parser || \
		{ echo "make test: building the binaries and test programs failed (see above)" >&2; exit 1; }
	$(Q)bash tests/run.sh

run: deps
	$(Q)$(MAKE) --no-print-directory all || { echo "make run: the build failed (see above)" >&2; exit 1; }
	$(Q)echo "make run: egressd runs in the foreground (Ctrl-C stops it; enforcement stays pinned)."
	$(Q)echo "make run: egressctl is $(abspath $(BUILD))/egressctl; in another shell, in this directory:"
	$(Q)echo "make run:   export PATH=\"\$$PWD/$(BUILD):\$$PATH\"   (or: make install)"
	$(Q)exec $(BUILD)/egressd

# ---- man pages (scdoc) and packaging ---------------------------------------
MANS := $(patsubst man/%.scd,$(BUILD)/man/%,$(wildcard man/*.scd))

$(BUILD)/man/%: man/%.scd
	$(Q)mkdir -p $(@D)
	$(call msg,SCDOC,$@)
	$(Q)scdoc < $< > $@

man: $(MANS)

install: all man
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man8 \
		$(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 0755 $(BUILD)/egressd $(BUILD)/egressctl $(DESTDIR)$(PREFIX)/sbin/
	install -m 0644 $(filter %.8,$(MANS)) $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 $(filter %.5,$(MANS)) $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 completions/egressctl $(DESTDIR)$(PREFIX)/share/bash-completion/completions/egressctl

# The package is built from a copy of the tree (build/ and .git left out), so that
# dpkg-buildpackage's clean never touches this one.  DEB_VERSION adds a changelog entry.
DEB_VERSION ?=
deb:
	$(Q)sh scripts/deps.sh deb
	$(Q)rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/src
	$(Q)tar --exclude=./build --exclude=./.git -cf - . | tar -C $(BUILD)/deb/src -xf -
	$(Q)if [ -n "$(DEB_VERSION)" ]; then \
		{ printf 'egress (%s) unstable; urgency=medium\n\n  * Rebuilt as %s.\n\n -- %s  %s\n\n' \
			"$(DEB_VERSION)" "$(DEB_VERSION)" \
			"$$(sed -n 's/^ -- \(.*>\)  .*/\1/p;T;q' debian/changelog)" "$$(date -R)"; \
		  cat debian/changelog; } > $(BUILD)/deb/src/debian/changelog; fi
	$(Q)cd $(BUILD)/deb/src && env -u BUILD -u DEB_VERSION -u VERSION -u PREFIX -u DESTDIR -u V -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES dpkg-buildpackage -b -us -uc $(if $(V),,>../build.log 2>&1) || \
		{ tail -40 ../build.log 2>/dev/null; exit 1; }
	$(Q)ls $(BUILD)/deb/*.deb

clean:
	rm -rf $(BUILD)

# An OCI image of egressd and egressctl, built with podman without downloading anything: FROM
# scratch with the binaries, the libraries ldd finds, busybox (the DaemonSet's init step).
PODMAN ?= podman --runtime runc --cgroup-manager cgroupfs --events-backend file
IMAGE  ?= localhost/egress:$(VERSION)
IMG    := $(BUILD)/image/rootfs
image: all
	$(call msg,IMAGE,$(IMAGE))
	$(Q)rm -rf $(BUILD)/image && mkdir -p $(IMG)/usr/sbin $(IMG)/bin $(IMG)/opt/egress $(IMG)/tmp
	$(Q)install -m 0755 $(BUILD)/egressd $(BUILD)/egressctl $(IMG)/usr/sbin/
	$(Q)ldd $(BUILD)/egressd $(BUILD)/egressctl | awk '$$2 == "=>" && $$3 ~ /^\// {print $$3} $$1 ~ /^\// {print $$1}' \
		| sort -u > $(IMG)/opt/egress/libs
	$(Q)for l in $$(cat $(IMG)/opt/egress/libs); do mkdir -p $(IMG)$$(dirname $$l) && cp -L $$l $(IMG)$$l || exit 1; done
	$(Q)cp /bin/busybox $(IMG)/bin/busybox && for a in sh cp mv mkdir cat grep sed chmod; do ln -s busybox $(IMG)/bin/$$a; done
	$(Q)install -m 0755 deploy/image/install.sh $(IMG)/opt/egress/install.sh
	$(Q)cp deploy/image/Containerfile $(BUILD)/image/
	$(Q)$(PODMAN) build --pull=never -q -t $(IMAGE) -t localhost/egress:latest $(BUILD)/image >/dev/null
	$(Q)$(PODMAN) run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 \
		$(IMAGE) --help | head -1

# Benchmarks: figures as ratios against a baseline measured in the same run (bench/RESULTS.md).
bench: deps
	$(Q)$(MAKE) --no-print-directory all || { echo "make bench: the build failed (see above)" >&2; exit 1; }
	$(Q)bash bench/run.sh
	$(Q)bash bench/fleet.sh

# Fuzzing: libFuzzer targets over the parsers; each runs FUZZ_SECONDS (corpus in tests/fuzz/corpus).
FUZZ_SECONDS ?= 30
FUZZ_TARGETS := cidr policy_file oci
FUZZ_SRCS := user/parse.c user/options.c user/policy.c user/cmdline.c user/oci.c

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_SRCS) $(wildcard user/*.h include/*.h)
	$(Q)mkdir -p $(@D)
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-Iinclude -Iuser -o $@ $< $(FUZZ_SRCS) -ljansson

fuzz: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)
	$(Q)for t in $(FUZZ_TARGETS); do \
		mkdir -p $(BUILD)/fuzz/corpus-$$t && cp -n tests/fuzz/corpus/$$t/* $(BUILD)/fuzz/corpus-$$t/ ; \
		echo "fuzz $$t: $(FUZZ_SECONDS) s"; \
		$(BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/ \
			$(BUILD)/fuzz/corpus-$$t 2>&1 | grep -E 'stat::number_of_executed_units|ERROR|SUMMARY' || exit 1; \
	done

# The free and pro tiers end to end, told for a person (Squid, runc, Python; root).
demo:
	$(Q)sh scripts/deps.sh demo || { echo "make demo: installing runc, squid and python3 failed (see above)" >&2; exit 1; }
	$(Q)$(MAKE) --no-print-directory all $(BUILD)/tests/probe || \
		{ echo "make demo: building build/egressd, build/egressctl and build/tests/probe failed (see above)" >&2; exit 1; }
	$(Q)EGRESSD=$(abspath $(BUILD))/egressd EGRESSCTL=$(abspath $(BUILD))/egressctl \
		PROBE=$(abspath $(BUILD))/tests/probe bash demo/demo.sh || \
		{ echo "make demo: the demo did not run as described (see its output above)" >&2; exit 1; }
