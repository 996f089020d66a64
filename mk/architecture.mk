# The layers the build defines (CMakeLists.txt, kvtier_layer; docs/ARCHITECTURE.md, "Layers"):
# `make test` fails, before the suite runs, on a dependency that goes up or across them (every
# header the compiler read for each layer, and every #include line under src/), then compiles
# upward includes of every spelling in a copy of src/ to show each is refused. About 2 s.
.PHONY: check-layers

check-layers: build
	@/usr/bin/python3 scripts/check-layers.py $(BUILD_DIR) --self-test

TEST_FIRST_TARGETS += check-layers
