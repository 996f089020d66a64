# The layers the build defines (CMakeLists.txt, kvtier_layer; docs/ARCHITECTURE.md, "Layers"):
# `make test` fails on an #include that goes up or across them, and shows first that the check
# would catch one (--self-test adds an upward include to a copy of src/). Seconds; runs first.
.PHONY: check-layers

check-layers: build
	@/usr/bin/python3 scripts/check-layers.py $(BUILD_DIR) --self-test

TEST_EXTRA_TARGETS += check-layers
