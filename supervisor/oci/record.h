// supervisor/oci/record.h: where a container's evidence record goes at `delete` (docs/kubernetes.md
// "Evidence"). The evidence directory (--evidence-dir, else EvidenceDir()) holds
//   <id>.jsonl      the record as one JSON line, appended (a log shipper's input);
//   evidence-log/   a tamper-evident log (docs/evidence.md "Layout": hash-chained records, signed
//                   checkpoints, its own Ed25519 key made at first use), one record of kind
//                   "oci_container" per deleted container, sealed by a checkpoint before `delete`
//                   returns. `cordon evidence verify --log DIR` checks it.
// Concurrent deletes on one node take turns on the log's lock.
#pragma once

#include <string>

#include "common/result.h"

namespace cordon::oci {

// Writes `record` (one JSON object's text) for container `id` into `evidence_dir`, both ways.
// Returns the record's sequence number in the log.
Result<uint64_t> WriteContainerRecord(const std::string& evidence_dir, const std::string& id, const std::string& record);

}  // namespace cordon::oci
