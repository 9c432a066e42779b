package telegram

// SetCommitHooks installs functions called just before and just after each
// batch's commit; returning false stops the bot there, as a crash would.
func SetCommitHooks(b *Bot, before, after func() bool) { b.beforeCommit, b.afterCommit = before, after }
