// The operations of docs/PROTOCOL.md on the store, for one connection: prepare_request() checks a
// request as soon as its meta is decoded (so a refused PUT's data is dropped as it streams in,
// never stored), execute_request() runs it once its frame is complete and queues the response.
//
// Every key is looked up in the session's tenant namespace: a client cannot name another
// tenant's blocks, so it cannot read, probe or count them.
//
// Thread-safety: called on the connection's I/O thread; the store is safe for concurrent use.
#pragma once

#include "kvtier/status.h"
#include "server/connection.h"
#include "server/output_queue.h"
#include "server/server_context.h"

namespace kvtier::server {

// Decides what happens to the data of `p` (kept in p.data, or discarded) and records a refusal
// in p.refused. REQUIRES: p.request holds the decoded meta.
void prepare_request(PendingRequest& p, Session& session, ServerContext& context);

// Executes `p` (or answers its refusal), appends the response to `out`, and returns the status
// the request is counted under. REQUIRES: the frame is complete.
StatusCode execute_request(PendingRequest& p, Session& session, ServerContext& context,
                           OutputQueue& out);

}  // namespace kvtier::server
