# The two commands of the README: `make run` (build and serve on 127.0.0.1:8080) and `make test`.
# Everything else is a helper of those two.
BUILD    ?= build
MESON    ?= meson
ARGS     ?=

.PHONY: all deps build run test test-asan bench clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja: | deps
	$(MESON) setup $(BUILD)

build: deps $(BUILD)/build.ninja
	$(MESON) compile -C $(BUILD)

run: build
	./$(BUILD)/service/imgpipe serve $(ARGS)

test: build
	$(MESON) test -C $(BUILD) --print-errorlogs $(ARGS)

# The suite again under AddressSanitizer + UndefinedBehaviorSanitizer (clang not needed: gcc's),
# in its own build directory. The sanitizers' options and LSan suppressions are meson's `asan`
# test setup (tests/meson.build): `meson test -C build-asan --setup asan` is the same run (its log:
# build-asan/meson-logs/testlog-asan.json).
test-asan: deps
	[ -f build-asan/build.ninja ] || $(MESON) setup build-asan -Db_sanitize=address,undefined -Db_lundef=false
	$(MESON) compile -C build-asan
	$(MESON) test -C build-asan --setup asan --print-errorlogs $(ARGS)

# The benchmark sweep (bench/README.md): make bench ARGS='--workload png --with-sharp'
bench: build
	BUILD=$(BUILD) bench/run.sh $(ARGS)

clean:
	rm -rf $(BUILD) build-asan
