# Control-namespace examples (tune_decay, ctl_dump, ctl_cost,
# mallctl_compat) and the
# namespace reference generator. `make ctl-doc` regenerates docs/ctl.md and
# the README section between the ctl-reference markers.

CTL_EXAMPLE_NAMES := tune_decay ctl_dump ctl_cost
CTL_EXAMPLES := $(addprefix $(BUILD)/examples/,$(CTL_EXAMPLE_NAMES))
GEN_CTL_DOC := $(BUILD)/tools/gen_ctl_doc

$(CTL_EXAMPLES): $(BUILD)/examples/%: examples/%.c core/include/tunalloc.h $(BUILD)/libtunalloc.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -O2 $< -o $@ $(BUILD)/libtunalloc.a $(LDLIBS)

# Written against jemalloc's API and linked with it; run under
# LD_PRELOAD=build/libtunalloc.so it uses tunalloc's aliases instead.
MALLCTL_COMPAT := $(BUILD)/examples/mallctl_compat
$(MALLCTL_COMPAT): examples/mallctl_compat.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -O2 $< -o $@ -ljemalloc $(LDLIBS)

$(GEN_CTL_DOC): tools/gen_ctl_doc.c core/include/tunalloc.h $(BUILD)/libtunalloc.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -O2 $< -o $@ $(BUILD)/libtunalloc.a $(LDLIBS)

.PHONY: ctl-doc
ctl-doc: $(GEN_CTL_DOC)
	$(PYTHON) tools/gen_ctl_doc.py --write

test-build: $(CTL_EXAMPLES) $(GEN_CTL_DOC) $(MALLCTL_COMPAT)
