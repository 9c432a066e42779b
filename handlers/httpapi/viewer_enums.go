package httpapi

import (
	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/logentry"
)

// Enum values of params (DONE, TIMEOUT, DENYLIST ...) as the viewer's
// pages show them: words in the page's locale. A value is looked up as
// "key.VALUE", then as "VALUE"; one without a word is shown as recorded.
// A security record's kind is named as its log entry names it
// (logentry's "kind.X" words), not here.
var enumWords = map[string]map[string]string{
	"en": {
		"DONE": "done", "ALREADY_GONE": "already gone", "FORBIDDEN": "not permitted", "FAILED": "failed",
		"rule.DENYLIST": "blocked domain", "NOT_ALLOWLISTED": "domain not allowed", "INVITE": "invite link", "LOOKALIKE": "look-alike domain",
		"DENYLIST": "blocklist", "ALLOWLIST": "allowlist",
		"DELETE": "delete", "FLAG": "flag", "QUARANTINE": "quarantine", "KICK": "kick", "BAN": "ban", "ROLE": "role granted",
		"UNRESTRICT": "restrictions lifted", "NONE": "none",
		"WRONG_ANSWER": "wrong answer", "TIMEOUT": "timed out", "LEFT": "left", "KICKED": "kicked",
		"BUTTON": "button", "MATH": "math question", "BOT": "bot", "WEBHOOK": "webhook", "INTEGRATION": "integration",
		"ACTIVE": "ongoing", "ENDED": "ended", "HAS_ATTACHMENT": "with attachments", "NO_ATTACHMENT": "no attachments",
	},
	"fr": {
		"DONE": "fait", "ALREADY_GONE": "déjà supprimé", "FORBIDDEN": "non autorisé", "FAILED": "échec",
		"rule.DENYLIST": "domaine bloqué", "NOT_ALLOWLISTED": "domaine non autorisé", "INVITE": "lien d’invitation", "LOOKALIKE": "domaine imitant",
		"DENYLIST": "liste de blocage", "ALLOWLIST": "liste d’autorisation",
		"DELETE": "suppression", "FLAG": "signalement", "QUARANTINE": "quarantaine", "KICK": "expulsion", "BAN": "bannissement", "ROLE": "rôle attribué",
		"UNRESTRICT": "restrictions levées", "NONE": "aucune",
		"WRONG_ANSWER": "mauvaise réponse", "TIMEOUT": "délai dépassé", "LEFT": "parti", "KICKED": "expulsé",
		"BUTTON": "bouton", "MATH": "question de calcul", "BOT": "bot", "WEBHOOK": "webhook", "INTEGRATION": "intégration",
		"ACTIVE": "en cours", "ENDED": "terminé", "HAS_ATTACHMENT": "avec pièces jointes", "NO_ATTACHMENT": "sans pièce jointe",
	},
	"hi": {
		"DONE": "पूरा हुआ", "ALREADY_GONE": "पहले ही हटाया गया", "FORBIDDEN": "अनुमति नहीं", "FAILED": "विफल",
		"rule.DENYLIST": "अवरुद्ध डोमेन", "NOT_ALLOWLISTED": "अनुमत डोमेन नहीं", "INVITE": "आमंत्रण लिंक", "LOOKALIKE": "नकली डोमेन",
		"DENYLIST": "ब्लॉक सूची", "ALLOWLIST": "अनुमति सूची",
		"DELETE": "हटाना", "FLAG": "चिह्नित", "QUARANTINE": "क्वारंटीन", "KICK": "निकालना", "BAN": "प्रतिबंध", "ROLE": "भूमिका दी गई",
		"UNRESTRICT": "प्रतिबंध हटाए", "NONE": "कोई नहीं",
		"WRONG_ANSWER": "गलत उत्तर", "TIMEOUT": "समय समाप्त", "LEFT": "छोड़ दिया", "KICKED": "निकाला गया",
		"BUTTON": "बटन", "MATH": "गणित प्रश्न", "BOT": "बॉट", "WEBHOOK": "वेबहुक", "INTEGRATION": "इंटीग्रेशन",
		"ACTIVE": "जारी", "ENDED": "समाप्त", "HAS_ATTACHMENT": "अनुलग्नक सहित", "NO_ATTACHMENT": "कोई अनुलग्नक नहीं",
	},
}

// enumKeys are the params whose values are enums.
var enumKeys = map[string]bool{"outcome": true, "rule": true, "mode": true, "action": true, "reason": true, "removal": true,
	"kind": true, "verification_kind": true, "integration": true, "raid_status": true, "attachment_status": true}

// enumWord returns the word for param key's value in locale, or value.
func enumWord(locale, key, value string) string {
	switch {
	case !enumKeys[key]:
		return value
	case key == audit.ParamKind:
		if w := logentry.Word(locale, "kind."+value); w != "kind."+value {
			return w
		}
		return value
	}
	return localized(enumWords, locale, value, key+"."+value, value)
}

// localized returns the first of keys that table has in locale, else in
// English, else fallback.
func localized(table map[string]map[string]string, locale, fallback string, keys ...string) string {
	if !logentry.ValidLocale(locale) {
		locale = "en"
	}
	for _, loc := range []string{locale, "en"} {
		for _, k := range keys {
			if w := table[loc][k]; w != "" {
				return w
			}
		}
	}
	return fallback
}
