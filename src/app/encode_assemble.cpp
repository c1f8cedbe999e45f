#include "app/encode_assemble.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "dist/mpi.h"

namespace saediff {

std::vector<DocSizes> SpoolSource::sizes() const {
  std::vector<DocSizes> out;
  for (const SpoolEntry& e : entries_) out.push_back(e.sizes);
  return out;
}

spool::Record SpoolSource::record(size_t i) {
  const SpoolEntry& e = entries_.at(i);
  spool::Record r = reader_.read(static_cast<size_t>(e.file), e.offset, e.bytes);
  r.doc.doc_index = e.doc;
  return r;
}

Assembly place_records(EncodePlan& plan, const std::string& my_file) {
  const int rank = mpi::comm_rank(), n_rank = mpi::comm_size();
  std::vector<int64_t> my_entries;
  if (!my_file.empty()) {
    std::ifstream index(my_file + ".idx", std::ios::binary);
    const auto bytes = static_cast<size_t>(std::filesystem::file_size(my_file + ".idx"));
    my_entries.resize(bytes / sizeof(int64_t));
    index.read(reinterpret_cast<char*>(my_entries.data()), static_cast<std::streamsize>(my_entries.size() * sizeof(int64_t)));
    SAEDIFF_CHECK(index.good() && bytes % (kWireFields * sizeof(int64_t)) == 0, "cannot read back '", my_file, ".idx'");
  }
  const std::vector<int64_t> new_entries = mpi::gatherv(my_entries);
  my_entries = {};
  std::vector<int> name_lengths;
  const std::vector<char> names = mpi::gatherv(std::vector<char>(my_file.begin(), my_file.end()), 0, MPI_COMM_WORLD, &name_lengths);
  std::vector<std::string> files;
  std::vector<std::vector<int64_t>> parts(static_cast<size_t>(n_rank));
  if (rank == 0) {
    files = plan.old_files;
    std::vector<int64_t> file_of_rank(static_cast<size_t>(n_rank), -1);
    size_t at = 0;
    for (int r = 0; r < n_rank; ++r) {
      const auto len = static_cast<size_t>(name_lengths[static_cast<size_t>(r)]);
      if (len > 0) {
        file_of_rank[static_cast<size_t>(r)] = static_cast<int64_t>(files.size());
        files.emplace_back(names.data() + at, len);
      }
      at += len;
    }
    for (size_t i = 0; i + kWireFields <= new_entries.size(); i += kWireFields) {
      SpoolEntry e = entry_from_wire(new_entries.data() + i);
      SAEDIFF_CHECK(e.doc >= 0 && e.doc < plan.n_doc && plan.stored[static_cast<size_t>(e.doc)].file < 0, "document ", e.doc,
                    " was encoded twice, or is out of range");
      e.file = file_of_rank.at(static_cast<size_t>(e.file));  // the writing rank's file
      plan.stored[static_cast<size_t>(e.doc)] = e;
    }
    int64_t total_bytes = 0;
    for (const SpoolEntry& e : plan.stored) {
      SAEDIFF_CHECK(e.file >= 0, "document ", e.doc, " was never encoded");
      total_bytes += e.bytes;
    }
    int64_t acc = 0;
    for (const SpoolEntry& e : plan.stored) {
      const auto r = static_cast<size_t>(std::min<int64_t>(n_rank - 1, total_bytes > 0 ? acc * n_rank / total_bytes : 0));
      entry_to_wire(e, parts[r]);
      acc += e.bytes;
    }
    plan.stored = {};
  }
  std::string files_json = rank == 0 ? nlohmann::json(files).dump() : std::string();
  mpi::broadcast(files_json);
  files = nlohmann::json::parse(files_json).get<std::vector<std::string>>();
  const std::vector<int64_t> my_wire = mpi::scatterv(parts);
  parts = {};
  std::vector<SpoolEntry> mine;
  for (size_t i = 0; i + kWireFields <= my_wire.size(); i += kWireFields) mine.push_back(entry_from_wire(my_wire.data() + i));
  int64_t n_old_files = static_cast<int64_t>(plan.old_files.size());  // files 0..n_old_files-1 hold earlier runs' records
  MPI_CHECK(MPI_Bcast(&n_old_files, 1, MPI_INT64_T, 0, MPI_COMM_WORLD));
  Assembly out;
  out.n_old_files = n_old_files;
  out.source = std::make_unique<SpoolSource>(std::move(mine), files);
  return out;
}

}  // namespace saediff
