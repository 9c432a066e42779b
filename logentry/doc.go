// Package logentry renders an audit event as the entry moderators read in a
// log channel: a one-line summary and labelled fields, in English, French or
// Hindi, with hostile names kept on one line and long values cut. Each
// platform's log sink turns an Entry into an embed or an HTML message.
package logentry
