#pragma once
// The encode stage: responses -> tokens -> Llama layer L -> SAE -> pooled features -> encoded.h5,
// on every rank of MPI_COMM_WORLD.
#include <cstdint>
#include <string>

namespace saediff {

struct EncodeConfig {
  std::string responses;          // responses.jsonl (failed pairs are counted, never encoded)
  std::string model;              // HF model folder: config.json, *.safetensors, tokenizer.json
  std::string sae;                // SAE state dict (.pth or .safetensors)
  int layer = 19;                 // decoder layer whose output is encoded (0-indexed)
  std::string out;                // encoded.h5
  std::string pool = "content";   // content | all
  std::string dtype = "float32";  // float32 | bfloat16
  std::string device = "cpu";     // cpu | cuda
  bool share_gpus = false;        // cuda: let more ranks than visible GPUs run on a node (they share GPUs)
  std::string tokenizer;          // default: MODEL/tokenizer.json
  double threshold = 0.5;         // active_docs counts documents whose pooled max > threshold
  int threads = 0;                // libtorch threads per rank; 0: the node's cores / ranks on the node
  std::string reduce = "auto";    // auto | mpi | nccl: how per-rank counts are summed
  int64_t max_doc_tokens = 0;     // tokens read per document, at most (0: the model's max_position_embeddings)
  int token_topk = 16;            // strongest features kept per pooled token (128 B/token; evidence fallback); 0: none
  int evidence_features = 50;     // per pair of sets and direction: top-diff features with exact per-token values
  int evidence_docs = 5;          // ... in their this many strongest documents per set (0: no evidence pass)
  int64_t chunk_tokens = 16384;   // documents handed out together, up to about this many tokens
  int64_t batch_tokens = 8192;    // documents read in one packed forward pass, up to about this many tokens
  double progress_seconds = 10;   // rank 0 logs progress this often (0: never)
  bool keep_spool = false;        // keep OUT.parts after the file is written (else it is removed)
};

struct EncodeSummary {
  int64_t n_docs = 0;     // documents encoded, all sets
  int64_t n_failed = 0;   // responses that failed to collect
  int64_t n_tokens = 0;   // tokens through the reader, all ranks
  double seconds = 0.0;   // wall time of the encode loop
  int64_t n_resumed = 0;  // documents found already encoded in OUT.parts
};

// Collective over MPI_COMM_WORLD. `resolved_config` (TOML) is stored in the file's attributes.
EncodeSummary run_encode(const EncodeConfig& config, const std::string& resolved_config);

}  // namespace saediff
