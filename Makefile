# Front door. `make` builds build/sluice; `make test` runs every test under ASan+UBSan;
# `make run` starts Sluice with a demo; `make bench`, `make fuzz`, `make lint`.
JOBS ?= $(shell nproc)
BUILD ?= build

.PHONY: all sluice test unit integration run bench fuzz lint clean deps

all: sluice

sluice:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_TESTS=OFF >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

deps:
	@scripts/deps

build-asan/sluice: FORCE
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=ON -DSLUICE_TESTS=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)
FORCE:

unit: build-asan/sluice
	@cd build-asan && ctest --output-on-failure -j $(JOBS)

integration: build-asan/sluice
	@SLUICE_BIN=$(CURDIR)/build-asan/sluice tests/integration/run

test: deps
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory integration

run: deps sluice
	@scripts/demo

bench: deps sluice
	@bench/objects/run
	@bench/events/run
	@bench/states/run
	@bench/tasks/run
	@python3 bench/latency/upload_to_delivery.py build/sluice 500
	@bench/pipeline/run
	@SLUICE_BIN=build/sluice bench/sns/run

fuzz:
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DSLUICE_FUZZ=ON -DSLUICE_SANITIZE=ON -DSLUICE_TESTS=OFF >/dev/null
	@cmake --build build-fuzz -j $(JOBS)
	@scripts/fuzz-smoke build-fuzz

lint:
	@clang-format --dry-run --Werror src/*/*.c src/*/*.h src/main.c tests/unit/*.c fuzz/*.c
	@cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr --suppress=unknownMacro -I src src

clean:
	rm -rf build build-asan build-fuzz
