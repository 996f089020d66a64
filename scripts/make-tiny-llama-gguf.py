#!/usr/bin/env python3
"""Writes a random-weight Llama-architecture GGUF model with llama.cpp's Llama-3 BPE tokenizer.

Its text is nonsense, but its KV cache is real: the integration tests and benches of
integrations/llama need a model whose prefill costs what a transformer's prefill costs, and no
model can be downloaded here. The tokenizer (vocabulary, merges, special tokens) is copied from
llama.cpp's vocab-only models/ggml-vocab-llama-bpe.gguf; the weights come from a seeded RNG, so
the same arguments always write the same file.

usage: make-tiny-llama-gguf.py LLAMA_CPP_DIR OUT.gguf [--preset tiny|small|tiny-other|wide-kv]
Needs numpy (Debian python3-numpy, i.e. /usr/bin/python3) and llama.cpp's gguf-py (found in
LLAMA_CPP_DIR/gguf-py).
"""
import argparse
import os
import sys

# Sizes: tiny for tests (fast to load, 512 B of KV per token); small so that a 2,000-token
# prefill takes seconds on 2 cores (8 KiB of KV per token); tiny-other differs from tiny only in
# its KV layout (more KV heads), to prove one model never reads another's blocks; wide-kv has 4x
# small's KV per token (32 KiB: twice the layers, every head its own KV), for llama-server's
# benchmark; both take 16k contexts (its 8k-token prompts).
PRESETS = {
    "tiny": dict(n_embd=128, n_layer=2, n_head=4, n_head_kv=2, n_ff=256),
    "tiny-other": dict(n_embd=128, n_layer=2, n_head=4, n_head_kv=4, n_ff=256),
    "small": dict(n_embd=512, n_layer=8, n_head=8, n_head_kv=4, n_ff=1024, context=16384),
    "wide-kv": dict(n_embd=512, n_layer=16, n_head=8, n_head_kv=8, n_ff=1024, context=16384),
}
CONTEXT = 4096  # unless the preset says otherwise
SEED = 20261202


def copy_tokenizer(reader, writer, gguf):
    """Copies every tokenizer.* field of the vocab-only model."""
    for name, field in reader.fields.items():
        if not name.startswith("tokenizer."):
            continue
        kind = field.types[0]
        if kind == gguf.GGUFValueType.ARRAY:
            sub = field.types[1]
            if sub == gguf.GGUFValueType.STRING:
                values = [bytes(field.parts[i]).decode("utf-8") for i in field.data]
            else:
                values = [field.parts[i].tolist()[0] for i in field.data]
            writer.add_key_value(name, values, kind, sub)
        elif kind == gguf.GGUFValueType.STRING:
            writer.add_key_value(name, bytes(field.parts[field.data[0]]).decode("utf-8"), kind)
        else:
            writer.add_key_value(name, field.parts[field.data[0]].tolist()[0], kind)
    return len(reader.fields["tokenizer.ggml.tokens"].data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("llama_cpp_dir")
    ap.add_argument("out")
    ap.add_argument("--preset", default="tiny", choices=sorted(PRESETS))
    args = ap.parse_args()
    sys.path.insert(0, os.path.join(args.llama_cpp_dir, "gguf-py"))
    import numpy as np
    import gguf

    p = PRESETS[args.preset]
    vocab = gguf.GGUFReader(os.path.join(args.llama_cpp_dir, "models", "ggml-vocab-llama-bpe.gguf"))
    tmp = args.out + ".tmp"
    w = gguf.GGUFWriter(tmp, "llama")
    w.add_name("kvtier-random-llama-" + args.preset)
    w.add_context_length(p.get("context", CONTEXT))
    w.add_embedding_length(p["n_embd"])
    w.add_block_count(p["n_layer"])
    w.add_feed_forward_length(p["n_ff"])
    w.add_head_count(p["n_head"])
    w.add_head_count_kv(p["n_head_kv"])
    w.add_rope_dimension_count(p["n_embd"] // p["n_head"])
    w.add_rope_freq_base(500000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    n_vocab = copy_tokenizer(vocab, w, gguf)
    w.add_vocab_size(n_vocab)

    rng = np.random.default_rng(SEED)
    n_embd, n_ff = p["n_embd"], p["n_ff"]
    n_kv = p["n_head_kv"] * (n_embd // p["n_head"])

    def matrix(rows, cols):
        # numpy shape (rows, cols) is ggml ne = [cols, rows]: `cols` inputs, `rows` outputs.
        return (rng.standard_normal((rows, cols), dtype=np.float32) / np.sqrt(cols)).astype(np.float16)

    # No output.weight: llama.cpp then ties the output projection to token_embd.
    w.add_tensor("token_embd.weight", matrix(n_vocab, n_embd))
    w.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    for i in range(p["n_layer"]):
        b = "blk.%d." % i
        w.add_tensor(b + "attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        w.add_tensor(b + "attn_q.weight", matrix(n_embd, n_embd))
        w.add_tensor(b + "attn_k.weight", matrix(n_kv, n_embd))
        w.add_tensor(b + "attn_v.weight", matrix(n_kv, n_embd))
        w.add_tensor(b + "attn_output.weight", matrix(n_embd, n_embd))
        w.add_tensor(b + "ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
        w.add_tensor(b + "ffn_gate.weight", matrix(n_ff, n_embd))
        w.add_tensor(b + "ffn_up.weight", matrix(n_ff, n_embd))
        w.add_tensor(b + "ffn_down.weight", matrix(n_embd, n_ff))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(tmp, args.out)
    print("%s: %s preset, %d layers, %d KV heads x %d, vocab %d" %
          (args.out, args.preset, p["n_layer"], p["n_head_kv"], n_embd // p["n_head"], n_vocab))


if __name__ == "__main__":
    main()
