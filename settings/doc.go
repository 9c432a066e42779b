// Package settings holds one community's settings (Community): log
// channels, locale, retention, content storage and the engines' overrides,
// and the table of engine setting keys that admins change from chat.
package settings
