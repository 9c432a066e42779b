// Package recorder makes audit events durable before anyone downstream sees
// them: it groups concurrent callers into one committed batch of a Journal
// (the store), returns to each caller only after the commit, computes each
// event's log-channel routes in the same transaction, and then hands the
// batch to subscribers (engines, metrics, watchers) in commit order.
package recorder
