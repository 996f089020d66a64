# clang-16's thread-safety analysis over src/ (docs/ARCHITECTURE.md, "Locks"): `make test` fails,
# before the suite runs, when a KVTIER_GUARDED_BY member is used without its mutex or a
# KVTIER_REQUIRES function is called without it. Its own build (build-tsa, -O0, unity) takes
# about 2 minutes on 2 cores from clean.
TSA_BUILD_DIR ?= build-tsa
.PHONY: thread-safety

thread-safety: deps
	@scripts/check-thread-safety.sh $(TSA_BUILD_DIR) $(JOBS)

TEST_FIRST_TARGETS += thread-safety
