package httpapi

import "github.com/chatwarden/chatwarden/logentry"

// pageLabels are the viewer pages' own words, by locale (those of
// logentry.Locales); a missing word falls back to English. Record content
// is rendered by logentry in the same locale.
var pageLabels = map[string]map[string]string{
	"en": {
		"role":       "Role",
		"login_link": "Log in", "link_gone": "This login link was already used or has expired. Ask for a new one in the chat (/audit viewer on Discord, /viewer on Telegram).",
		"link_confirm": "Log in to the audit log viewer:", "community": "Community", "link_button": "Log in",
		"user": "User", "channel": "Channel", "f_since": "Since", "f_until": "Until", "no_entries": "No entries match.",
		"newer": "← Newer", "download": "Download everything these filters match:",
		"before": "Before", "after": "After",
		"fold_joins": "%d members joined (%s – %s)", "fold_raid": "Join raid: %d members joined (%s – %s)",
		"cat_members": "members", "cat_messages": "messages", "cat_moderation": "moderation", "cat_server": "server",
		"removals": "Leaves and removals", "chart_daily": "Events per day by category (30 days)", "chart_members": "Joins and leaves per day (30 days)",
		"counts": "Records by type", "type": "Type", "moderators": "Actions per moderator (30 days)", "total": "Total",
		"raids": "Join raids (30 days)", "size": "Accounts", "status": "Status", "raid_joins": "the joins", "no_raids": "No raids.",
		"first_seen": "First seen", "joins": "Joins", "leaves": "Leaves", "names": "Names over time", "messages": "Messages",
		"edits": "Edits", "deletions": "Deletions", "actions_on": "Actions taken on them", "reports_by": "Reports by them",
		"reports_about": "Reports about them", "their_log": "Everything they did", "their_actions": "Actions they took as a moderator",
		"partial": "Only the newest records were read; older history is in the log.", "none": "none", "since": "since",
		"log": "Log", "moderation": "Moderation", "summary": "Summary", "member": "Member", "record": "Record",
		"timezone": "Time zone", "tz_set": "Set",
		"choose_community": "Choose a community", "choose_intro": "Communities whose log you may read, as",
		"logout": "Log out", "choose_property": "Choose a community on the log page first.",
		"time": "Time", "moderator": "Moderator", "action": "Action", "reason": "Reason", "record_link": "Record",
		"no_reason": "no reason given", "all_actions": "all actions", "filter": "Filter", "older": "Older →",
		"no_actions": "No moderator actions match.", "someone": "someone", "not_found": "No such record in this community.",
		"act_ban": "ban", "act_unban": "unban", "act_kick": "kick", "act_timeout": "timeout", "act_timeout_lift": "timeout lifted",
		"act_quarantine": "quarantine", "act_delete": "message deleted", "act_link": "link removed",
		"act_verify_pass": "verification passed", "act_verify_fail": "verification failed",
	},
	"fr": {
		"role":       "Rôle",
		"login_link": "Connexion", "link_gone": "Ce lien de connexion a déjà servi ou a expiré. Demandez-en un nouveau dans le chat (/audit viewer sur Discord, /viewer sur Telegram).",
		"link_confirm": "Se connecter au journal d’audit :", "community": "Communauté", "link_button": "Se connecter",
		"user": "Utilisateur", "channel": "Salon", "f_since": "Depuis", "f_until": "Jusqu’à", "no_entries": "Aucune entrée ne correspond.",
		"newer": "← Plus récentes", "download": "Télécharger tout ce que ces filtres trouvent :",
		"before": "Avant", "after": "Après",
		"fold_joins": "%d membres sont arrivés (%s – %s)", "fold_raid": "Raid d’arrivées : %d membres sont arrivés (%s – %s)",
		"cat_members": "membres", "cat_messages": "messages", "cat_moderation": "modération", "cat_server": "serveur",
		"removals": "Départs et expulsions", "chart_daily": "Événements par jour et catégorie (30 jours)", "chart_members": "Arrivées et départs par jour (30 jours)",
		"counts": "Entrées par type", "type": "Type", "moderators": "Actions par modérateur (30 jours)", "total": "Total",
		"raids": "Raids d’arrivées (30 jours)", "size": "Comptes", "status": "État", "raid_joins": "les arrivées", "no_raids": "Aucun raid.",
		"first_seen": "Vu pour la première fois", "joins": "Arrivées", "leaves": "Départs", "names": "Noms successifs", "messages": "Messages",
		"edits": "Modifications", "deletions": "Suppressions", "actions_on": "Actions prises à son encontre", "reports_by": "Signalements faits",
		"reports_about": "Signalements le concernant", "their_log": "Tout ce qu’il a fait", "their_actions": "Ses actions de modérateur",
		"partial": "Seules les entrées les plus récentes ont été lues ; la suite est dans le journal.", "none": "aucun", "since": "depuis",
		"log": "Journal", "moderation": "Modération", "summary": "Résumé", "member": "Membre", "record": "Entrée",
		"timezone": "Fuseau horaire", "tz_set": "Choisir",
		"choose_community": "Choisissez une communauté", "choose_intro": "Les communautés dont vous pouvez lire le journal, en tant que",
		"logout": "Se déconnecter", "choose_property": "Choisissez d’abord une communauté dans le journal.",
		"time": "Heure", "moderator": "Modérateur", "action": "Action", "reason": "Raison", "record_link": "Entrée",
		"no_reason": "aucune raison donnée", "all_actions": "toutes les actions", "filter": "Filtrer", "older": "Plus anciennes →",
		"no_actions": "Aucune action de modération ne correspond.", "someone": "quelqu’un", "not_found": "Aucune entrée de ce nom dans cette communauté.",
		"act_ban": "bannissement", "act_unban": "débannissement", "act_kick": "expulsion", "act_timeout": "exclusion temporaire",
		"act_timeout_lift": "exclusion levée", "act_quarantine": "quarantaine", "act_delete": "message supprimé",
		"act_link": "lien retiré", "act_verify_pass": "vérification réussie", "act_verify_fail": "vérification échouée",
	},
	"hi": {
		"role":       "भूमिका",
		"login_link": "लॉग इन", "link_gone": "यह लॉगिन लिंक पहले ही उपयोग हो चुका है या समाप्त हो गया है। चैट में नया माँगें (Discord पर /audit viewer, Telegram पर /viewer)।",
		"link_confirm": "ऑडिट लॉग व्यूअर में लॉग इन करें:", "community": "समुदाय", "link_button": "लॉग इन",
		"user": "उपयोगकर्ता", "channel": "चैनल", "f_since": "से", "f_until": "तक", "no_entries": "कोई प्रविष्टि मेल नहीं खाती।",
		"newer": "← नए", "download": "इन फ़िल्टरों से मेल खाने वाला सब कुछ डाउनलोड करें:",
		"before": "पहले", "after": "बाद में",
		"fold_joins": "%d सदस्य जुड़े (%s – %s)", "fold_raid": "जॉइन रेड: %d सदस्य जुड़े (%s – %s)",
		"cat_members": "सदस्य", "cat_messages": "संदेश", "cat_moderation": "मॉडरेशन", "cat_server": "सर्वर",
		"removals": "छोड़ना और निकालना", "chart_daily": "श्रेणी के अनुसार प्रतिदिन घटनाएँ (30 दिन)", "chart_members": "प्रतिदिन जुड़ना और छोड़ना (30 दिन)",
		"counts": "प्रकार के अनुसार रिकॉर्ड", "type": "प्रकार", "moderators": "प्रति मॉडरेटर कार्रवाइयाँ (30 दिन)", "total": "कुल",
		"raids": "जॉइन रेड (30 दिन)", "size": "खाते", "status": "स्थिति", "raid_joins": "जुड़ने वाले", "no_raids": "कोई रेड नहीं।",
		"first_seen": "पहली बार देखा गया", "joins": "जुड़ना", "leaves": "छोड़ना", "names": "समय के साथ नाम", "messages": "संदेश",
		"edits": "संपादन", "deletions": "हटाए गए", "actions_on": "उन पर की गई कार्रवाइयाँ", "reports_by": "उनकी रिपोर्टें",
		"reports_about": "उनके बारे में रिपोर्टें", "their_log": "उन्होंने जो कुछ किया", "their_actions": "मॉडरेटर के रूप में उनकी कार्रवाइयाँ",
		"partial": "केवल नए रिकॉर्ड पढ़े गए; पुराना इतिहास लॉग में है।", "none": "कोई नहीं", "since": "से",
		"log": "लॉग", "moderation": "मॉडरेशन", "summary": "सारांश", "member": "सदस्य", "record": "रिकॉर्ड",
		"timezone": "समय क्षेत्र", "tz_set": "चुनें",
		"choose_community": "समुदाय चुनें", "choose_intro": "वे समुदाय जिनका लॉग आप पढ़ सकते हैं, इस रूप में:",
		"logout": "लॉग आउट", "choose_property": "पहले लॉग पेज पर एक समुदाय चुनें।",
		"time": "समय", "moderator": "मॉडरेटर", "action": "कार्रवाई", "reason": "कारण", "record_link": "रिकॉर्ड",
		"no_reason": "कोई कारण नहीं दिया गया", "all_actions": "सभी कार्रवाइयाँ", "filter": "फ़िल्टर", "older": "पुराने →",
		"no_actions": "कोई मॉडरेटर कार्रवाई मेल नहीं खाती।", "someone": "कोई", "not_found": "इस समुदाय में ऐसा कोई रिकॉर्ड नहीं है।",
		"act_ban": "प्रतिबंध", "act_unban": "प्रतिबंध हटाया", "act_kick": "निकाला गया", "act_timeout": "टाइमआउट",
		"act_timeout_lift": "टाइमआउट हटाया", "act_quarantine": "क्वारंटीन", "act_delete": "संदेश हटाया",
		"act_link": "लिंक हटाया", "act_verify_pass": "सत्यापन सफल", "act_verify_fail": "सत्यापन विफल",
	},
}

// pageLabel returns the word for key in locale, else in English, else key.
func pageLabel(locale, key string) string {
	if !logentry.ValidLocale(locale) {
		locale = "en"
	}
	if s := pageLabels[locale][key]; s != "" {
		return s
	}
	if s := pageLabels["en"][key]; s != "" {
		return s
	}
	return key
}
