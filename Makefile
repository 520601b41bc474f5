# The commands a newcomer needs. Each installs what it needs first.
.PHONY: all deps build typecheck lint test demo bench clean image image-deps image-test e2e

all: build

deps:
	@scripts/ensure-system-deps.sh
	@scripts/ensure-node-deps.sh

build: deps
	npx tsc -p tsconfig.json --noEmit
	npm run -s api-doc
	node scripts/build.mjs

typecheck: deps
	npx tsc -p tsconfig.json --noEmit

lint: deps
	npm run lint

test:
	@scripts/test.sh

# The ramdisk (image/build.sh): dist/image/{ramdisk-agent.kernel,ramdisk-agent.initramfs,boot.ipxe,manifest.json}.
image-deps:
	@image/install-build-deps.sh

image: build image-deps
	image/build.sh

# End to end (test/e2e/README.md): a QEMU machine boots the ramdisk over PXE; our conductor and a
# stock Ironic clean and deploy it. Builds the image first unless RAMDISK_AGENT_IMAGE_DIR names one, and
# the burn-in image (BURNIN=1: fio, stress-ng) for inspection-and-burnin.e2e.ts unless RAMDISK_AGENT_BURNIN_IMAGE_DIR does
# (zstd -3: a test-only image, ~20 s to build where -19 takes ~190 s).
e2e: deps
	@if [ -z "$${RAMDISK_AGENT_IMAGE_DIR:-}" ]; then $(MAKE) --no-print-directory image; fi
	@if [ -z "$${RAMDISK_AGENT_BURNIN_IMAGE_DIR:-}" ]; then \
	  [ -f dist/ramdisk-agent.mjs ] || $(MAKE) --no-print-directory build image-deps; \
	  BURNIN=1 ZSTD_LEVEL=3 image/build.sh dist/image-burnin; fi
	@test/e2e/install-deps.sh
	npx vitest run -c test/e2e/vitest.config.ts

# Rebuilds the image into a scratch folder and compares every sha256 with dist/image, then
# checks the manifest and the initramfs's contents (minutes: not part of make test).
image-test: image
	RAMDISK_AGENT_IMAGE_TEST=required npx vitest run test/image

demo: build
	node dist/ramdisk-agent.mjs demo

bench: build
	node bench/run.mjs

clean:
	rm -rf dist test-results
