# The commands a newcomer needs. Each installs what it needs first.
.PHONY: all deps build typecheck lint test demo bench clean image image-deps image-test

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

demo: build
	node dist/ramdisk-agent.mjs demo

bench: build
	node bench/run.mjs

clean:
	rm -rf dist test-results
