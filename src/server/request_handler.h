// The operations of docs/PROTOCOL.md on the store, for one connection: check_request() checks a
// request as soon as its meta is decoded, before it takes any memory (so a refused PUT's data is
// dropped as it streams in, never held nor stored); prepare_request() then places the data of a
// request the in-flight budget admitted; execute_request() runs it once its frame is complete
// and queues the response.
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

// Checks what can be checked from the meta (sizes, the tenant's quota) and records a refusal in
// p.refused (its data then discarded). REQUIRES: p.request holds the decoded meta.
void check_request(PendingRequest& p, Session& session, ServerContext& context);

// Decides where the data of `p` goes (DRAM reservations, a value buffer), or refuses it when
// there is no room there. REQUIRES: check_request passed and the data's memory is held.
void prepare_request(PendingRequest& p, Session& session, ServerContext& context);

// Executes `p` (or answers its refusal), appends the response to `out`, and returns the status
// the request is counted under. REQUIRES: the frame is complete.
StatusCode execute_request(PendingRequest& p, Session& session, ServerContext& context,
                           OutputQueue& out);

}  // namespace kvtier::server
