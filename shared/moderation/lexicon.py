"""The tier-0 keyword and pattern lists, per category, as data (written from general knowledge, not from eval data).

Terms are matched on *normalised* text (see normalize.py): lower case, look-alikes folded, leetspeak undone, so
each term is written once in plain lower-case spelling. A plain term also matches its plural (+"s") and with any
doubled letter single ("killll" normalises to "kil"); a space in a term matches spaces, hyphens or underscores.
Regex entries are Python regexes over the normalised text, non-capturing groups only.

Weights: ~0.9 for terms that are almost never benign, ~0.5 for ambiguous ones (a drug name, "porn" in a news
story). Identity terms ("gay", "muslim", "black", "women", "jews") never appear alone: they only occur inside
patterns that pair them with a dehumanising or violent predicate. The identity-term false positives users
complain about start exactly there, and tests/test_keywords.py pins it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    pattern: str  # a term (plain text) or a regex
    weight: float
    regex: bool = False
    label: str = ""  # how a regex hit is named in evidence ("" = the matched text)
    bounded: bool = True  # wrap in word boundaries (off for patterns that start or end with punctuation)


def terms(weight: float, *words: str) -> tuple[Entry, ...]:
    return tuple(Entry(w, weight) for w in words)


def rx(pattern: str, weight: float, label: str = "", bounded: bool = True) -> Entry:
    return Entry(pattern, weight, regex=True, label=label, bounded=bounded)


# --------------------------------------------------------------------------- shared pattern pieces
# Groups that hate speech targets. Used ONLY inside patterns that add a hateful predicate.
GROUPS = (
    r"(?:jews|jewish people|muslims|islamists|arabs|blacks|black people|africans|gays|gay people|lesbians|"
    r"homosexuals|queers|trans people|transgenders?|trannies|women|females|immigrants|migrants|refugees|"
    r"foreigners|mexicans|latinos|hispanics|asians|chinese people|chinese|indians|pakistanis|hindus|sikhs|"
    r"christians|catholics|gypsies|roma|whites|white people|disabled people|the disabled|retards)"
)
_VERMIN = (
    r"(?:vermin|animals|parasites|cockroaches|roaches|rats|subhumans?|savages|apes|monkeys|pigs|dogs|filth|scum|"
    r"a disease|a plague|a cancer|an infestation|garbage|trash|not human|less than human|inferior|evil|disgusting|"
    r"worthless|a virus)"
)
_EXTERMINATE = (
    r"(?:be exterminated|be eradicated|be wiped out|be gassed|be killed|be shot|be hanged|be lynched|be burned|"
    r"all die|die|burn|hang|be deported|go back to their country|not be allowed to live)"
)
_YOU = r"(?:you|u|ya)"
_MINOR = (
    r"(?:child|children|kid|kids|minor|minors|underage|under age|preteens?|pre teens?|toddlers?|infants?|"
    r"little (?:girl|boy)s?|young (?:girl|boy)s?|schoolgirls?|schoolboys?|teens?|teenagers?|"
    r"(?:[1-9]|1[0-5])[ -]?(?:yo|y/o|years? old|year-old))"
)
_SEXUAL = (
    r"(?:sex(?! ed\b| education)|sexual|sexually|sexy|nude|nudes|naked|porn|porno|pornography|erotic|rape|raped|"
    r"raping|molest|molested|blowjob|orgasm|masturbat\w*|undress\w*|lewd|nsfw|horny|seduce|seducing)"
)
_WINDOW = r"\W+(?:\w+\W+){0,4}?"  # up to four words between the two halves of a pairing

LEXICON: dict[str, tuple[Entry, ...]] = {
    # ----------------------------------------------------------------------- hate
    "hate": (
        *terms(0.95, "nigger", "sand nigger", "kike", "wetback", "raghead", "towelhead", "porch monkey"),
        *terms(0.95, "jungle bunny", "zipperhead", "camel jockey", "spearchucker", "golliwog", "gas the jews"),
        *terms(0.85, "faggot", "chink", "gook", "beaner", "spic", "paki", "heeb", "hymie", "kyke", "shitskin"),
        *terms(0.85, "mudslime", "muzzie", "gypo", "pikey", "tranny", "shemale", "untermensch", "race traitor"),
        *terms(0.85, "sieg heil", "heil hitler", "white power", "mongoloid", "greaseball", "dune coon"),
        *terms(0.6, "nigga", "fag", "dyke", "coon", "kaffir", "dago", "wop", "yid", "gyp", "jap"),
        *terms(0.45, "cracker", "redneck"),
        *terms(0.55, "1488", "white genocide", "great replacement", "subhuman", "globalist jews", "zog"),
        rx(rf"{GROUPS} (?:are|is|r) (?:all |just |nothing but |literally )?{_VERMIN}", 0.9, "dehumanising"),
        rx(rf"{GROUPS} (?:should|must|need to|deserve to|ought to) (?:all )?{_EXTERMINATE}", 0.95, "eliminationist"),
        rx(
            rf"(?:kill|gas|exterminate|deport|hang|lynch|shoot|eradicate|wipe out) (?:all )?(?:the )?{GROUPS}",
            0.9,
            "eliminationist",
        ),
        rx(
            rf"(?:death to|i hate|we hate|fuck|fuck all|fuck the|hang all) (?:all |the )?{GROUPS}",
            0.85,
            "hatred of a group",
        ),
        rx(rf"{GROUPS} (?:don'?t|do not) deserve (?:to live|rights|to exist|respect)", 0.9, "dehumanising"),
        rx(rf"no {GROUPS} allowed", 0.7, "exclusion"),
        rx(rf"(?:filthy|dirty|stupid|disgusting) {GROUPS}", 0.7, "slur-like phrase"),
    ),
    # ----------------------------------------------------------------------- harassment, insults, threats
    "harassment": (
        *terms(0.95, "kill yourself", "kill urself", "kys", "go die", "neck yourself", "hang yourself"),
        *terms(0.9, "drink bleach", "i hope you die", "hope you die", "you should die", "i will find you"),
        *terms(0.9, "i know where you live", "you are dead meat", "you're dead meat", "i will kill you"),
        *terms(0.9, "i'll kill you", "i will hurt you", "i'll hurt you", "i will rape you", "cunt"),
        *terms(0.85, "motherfucker", "fuck you", "fuck u", "piece of shit", "nobody would miss you"),
        *terms(0.8, "bitch", "whore", "slut", "asshole", "dickhead", "dumbass", "retard", "scumbag", "fuck off"),
        *terms(0.8, "worthless piece", "waste of oxygen", "waste of space", "go to hell", "shithead", "twat"),
        *terms(0.7, "bastard", "moron", "retarded", "imbecile", "stfu", "gtfo", "screw you", "watch your back"),
        *terms(0.7, "nobody likes you", "everyone hates you", "you disgust me", "prick", "wanker", "jackass"),
        *terms(0.5, "idiot", "stupid", "loser", "pathetic", "dumb", "ugly", "freak", "fatso", "shut up"),
        rx(
            rf"i(?:'?ll| will| wil|'?m going to|'?m gonna| am going to| am gonna| gonna) (?:\w+ )?"
            rf"(?:kill|murder|hurt|stab|shoot|beat|rape|strangle|choke|destroy|end) {_YOU}\b",
            0.9,
            "threat",
        ),
        rx(
            rf"{_YOU}(?:'?re| are| r) (?:so |such |a |an |such an? |the )*(?:stupid|idiot|moron|worthless|pathetic|"
            r"disgusting|loser|trash|garbage|useless|ugly|retard|retarded|failure|joke|waste)",
            0.75,
            "insult",
        ),
        rx(r"shut (?:the fuck )?up,? (?:you|u) \w+", 0.7, "insult"),
        rx(r"(?:go|just) (?:and )?(?:kill|hang|shoot) (?:yourself|urself|your self)", 0.95, "incitement"),
    ),
    # ----------------------------------------------------------------------- sexual
    "sexual": (
        *terms(0.9, "blowjob", "handjob", "cumshot", "gangbang", "deepthroat", "creampie", "send nudes"),
        *terms(0.9, "bukkake", "titty fuck", "rimjob", "jerk me off", "suck my dick", "suck my cock", "sixty nine"),
        *terms(0.8, "porn", "porno", "hentai", "milf", "dildo", "horny", "orgasm", "masturbate", "masturbating"),
        *terms(0.8, "jerk off", "jerking off", "fuck me", "threesome", "clit", "boobs"),
        *terms(0.6, "tits", "cum", "pussy"),
        *terms(0.8, "camgirl", "onlyfans", "sexting", "nudes", "erotic", "erection", "bdsm", "pegging", "shemale"),
        *terms(0.6, "pornography", "nude", "naked", "dick", "cock", "penis", "vagina", "anal", "vibrator", "nsfw"),
        *terms(0.6, "have sex", "having sex", "sex tape", "hooker", "escort service", "strip club", "fetish"),
        *terms(0.45, "sexy", "sex", "aroused", "lingerie", "kinky", "boner", "stripper"),
        rx(
            r"(?:suck|lick|touch|rub|stroke) (?:my|your|his|her) (?:\w+ )?(?:dick|cock|pussy|tits|boobs|balls|clit)",
            0.9,
            "explicit act",
        ),
    ),
    # ----------------------------------------------------------------------- sexual content involving minors
    "sexual/minors": (
        *terms(0.95, "child porn", "child pornography", "csam", "jailbait", "lolicon", "shotacon", "kiddie porn"),
        *terms(0.95, "pedo porn", "preteen porn", "underage porn", "underage sex", "child sex", "cp links"),
        *terms(0.7, "pedophile", "paedophile", "pedo", "loli", "shota", "child molester", "molest a child"),
        rx(rf"{_MINOR}{_WINDOW}{_SEXUAL}", 0.8, "minor + sexual term"),
        rx(rf"{_SEXUAL}{_WINDOW}{_MINOR}", 0.8, "sexual term + minor"),
    ),
    # ----------------------------------------------------------------------- violence
    "violence": (
        *terms(0.9, "slit your throat", "slit his throat", "slit her throat", "behead", "beheading", "curb stomp"),
        *terms(0.9, "mass shooting spree", "shoot up the place", "gas chamber for"),
        *terms(0.9, "i will kill you", "i'll kill you", "kill them all", "torture him", "torture her"),
        *terms(0.75, "massacre", "dismember", "decapitate", "lynch", "bloodbath", "gut him", "gut her"),
        *terms(0.75, "beat to death", "stab him", "stab her", "stab you", "shoot him", "shoot her", "shoot you"),
        *terms(0.5, "murder", "torture", "rape", "genocide", "terrorist attack", "strangle", "mutilate", "slaughter"),
        *terms(0.4, "kill", "killing", "shooting", "gore", "stabbing", "bomb", "assault"),
        rx(
            r"(?:bomb|blow up|shoot up|attack|burn down) (?:the|a|this|that) (?:\w+ )?(?:school|church|mosque|"
            r"synagogue|temple|building|office|mall|airport|station|embassy|concert|stadium|parliament|"
            r"white house|hospital|clinic)",
            0.9,
            "attack on a place",
        ),
        rx(
            r"(?:kill|murder|shoot|stab|strangle|behead|torture|burn|hang) (?:him|her|them|you|u|everyone|"
            r"everybody|all of (?:you|them)|his \w+|her \w+)",
            0.8,
            "violent act against a person",
        ),
        rx(r"(?:bash|smash|cave|kick) (?:his|her|your|their) (?:head|skull|face|teeth) in", 0.85, "graphic violence"),
        rx(r"beat (?:him|her|you|them) (?:to death|senseless|to a pulp|bloody)", 0.85, "graphic violence"),
    ),
    # ----------------------------------------------------------------------- self-harm
    "self-harm": (
        *terms(0.95, "kill myself", "killing myself", "end my life", "take my own life", "slit my wrists"),
        *terms(0.95, "hang myself", "want to die", "wanna die", "unalive myself", "painless way to die"),
        *terms(0.9, "cut myself", "cutting myself", "hurt myself", "hurting myself", "better off dead"),
        *terms(0.9, "no reason to live", "starve myself", "pro ana", "thinspo", "thinspiration", "sewerslide"),
        *terms(0.85, "suicidal", "self harm", "self harming", "overdose on", "jump off a bridge", "end it all"),
        *terms(0.45, "kms"),
        *terms(0.55, "suicide", "overdose", "self injury", "razor blade", "purging", "i hate my life"),
        rx(r"(?:i )?(?:don'?t|do not|dont) want to (?:live|be alive|exist|wake up)", 0.85, "wish to die"),
        rx(
            r"how (?:many|much) (?:\w+ ){0,2}(?:pills|tylenol|paracetamol|sleeping pills|insulin) "
            r"(?:to|would|does it take to|will) (?:die|kill|overdose|od)",
            0.95,
            "method seeking",
        ),
        rx(
            r"(?:best|easiest|quickest|painless|fastest) (?:way|method)s? to (?:die|kill myself|commit suicide|end it)",
            0.95,
            "method seeking",
        ),
    ),
    # ----------------------------------------------------------------------- illicit: drugs, weapons, fraud
    "illicit": (
        *terms(0.9, "pipe bomb", "fullz", "credit card dumps", "cc dumps", "phishing kit", "ddos for hire"),
        *terms(0.9, "untraceable gun", "ghost gun", "stolen credit cards", "carding tutorial", "launder money"),
        *terms(0.85, "counterfeit money", "counterfeit bills", "fake passport", "fake passports", "fake id"),
        *terms(0.85, "meth lab", "cook meth", "molotov cocktail", "buy drugs online", "darknet market"),
        *terms(0.7, "money laundering", "ransomware", "carding", "tax evasion", "drug dealer", "hotwire a car"),
        *terms(0.7, "shoplift", "shoplifting", "steal a car", "bank logins", "3d printed gun"),
        *terms(0.45, "cvv", "silencer"),
        *terms(0.5, "cocaine", "heroin", "meth", "methamphetamine", "fentanyl", "mdma", "lsd", "crack cocaine"),
        *terms(0.5, "ketamine", "oxycodone", "oxy", "xanax", "dark web", "explosives", "napalm", "ricin"),
        rx(
            r"(?:buy|sell|selling|order|get|ship|shipping) (?:\w+ ){0,2}(?:cocaine|coke|heroin|meth|crystal meth|"
            r"fentanyl|mdma|molly|ecstasy|lsd|acid tabs|ketamine|xanax|oxy|oxycodone|percocet|adderall|weed|"
            r"guns|firearms|ammo|grenades)",
            0.8,
            "drug or weapon sale",
        ),
        rx(
            r"(?:cocaine|heroin|meth|fentanyl|mdma|xanax|oxycodone|weed|guns) (?:for sale|available|in stock)",
            0.85,
            "drug or weapon sale",
        ),
        rx(
            r"how (?:to|do i|can i|do you) (?:make|build|cook|synthesi[sz]e|brew|assemble|3d print|manufacture) "
            r"(?:a |an |some |my own )?(?:bomb|pipe bomb|explosive|explosives|meth|methamphetamine|napalm|ricin|"
            r"sarin|nerve agent|thermite|silencer|suppressor|ghost gun|untraceable gun|molotov|grenade|"
            r"fentanyl|crack|poison)",
            0.95,
            "weapon or drug making",
        ),
        rx(
            r"(?:write|create|build|make|code|develop|generate|give me) (?:me )?(?:a |an |some )?(?:\w+ ){0,2}"
            r"(?:ransomware|keylogger|key logger|malware|computer virus|trojan|rootkit|botnet|infostealer|"
            r"password stealer|spyware|cryptojacker|phishing (?:page|site|kit|email|emails|campaign))",
            0.95,
            "malware authoring",
        ),
        rx(
            r"how (?:to|do i|can i) (?:launder money|hack into|steal|shoplift|make counterfeit|forge|evade taxes|"
            r"pick a lock|hotwire|buy a gun without|get a fake id|poison someone)",
            0.85,
            "crime how-to",
        ),
    ),
    # ----------------------------------------------------------------------- spam
    "spam": (
        *terms(0.75, "click here", "limited time offer", "act now", "free money", "make money fast", "100% free"),
        *terms(0.75, "crypto giveaway", "double your bitcoin", "double your money", "risk free investment"),
        *terms(0.75, "guaranteed income", "earn money from home", "work from home and earn", "dm me for"),
        *terms(0.75, "you have won", "you've won", "claim your prize", "claim your reward", "congratulations you won"),
        *terms(0.5, "buy now", "order now", "free gift", "special promotion", "subscribe now", "discount code"),
        *terms(0.5, "promo code", "check out my", "follow me", "visit my", "cheap viagra", "viagra", "casino"),
        rx(r"(?:https?://|www\.)[^\s<>\"']+", 0.4, "url"),
        rx(r"(?:bit\.ly|tinyurl\.com|goo\.gl|t\.co|ow\.ly|is\.gd|cutt\.ly)/\S+", 0.6, "short url"),
        rx(
            r"(?:earn|make|making|win|get) (?:up to )?\$?\d[\d,.]*(?:k)? ?(?:\$|usd|dollars|euros?|btc)? "
            r"(?:a|per|every|each|in a) (?:day|week|hour|month)",
            0.8,
            "money promise",
        ),
        rx(r"send (?:\d[\d.]* )?(?:btc|eth|bitcoin|ethereum|usdt|crypto) (?:to|and)", 0.8, "crypto scam"),
        rx(
            r"(?:bitcoin|btc|eth|ethereum|crypto|usdt)\W+(?:\w+\W+){0,3}(?:giveaway|airdrop|doubl\w*|guaranteed)",
            0.75,
            "crypto scam",
        ),
        rx(r"(?:bc1|[13])[a-z0-9]{25,39}|0x[0-9a-f]{40}", 0.45, "crypto address"),
    ),
    # ----------------------------------------------------------------------- prompt injection
    "prompt_injection": (
        *terms(0.9, "ignore previous instructions", "ignore all previous instructions", "ignore the above"),
        *terms(0.9, "you are now dan", "do anything now", "dan mode", "developer mode enabled", "jailbroken"),
        *terms(0.6, "system prompt", "jailbreak", "initial instructions"),
        *terms(0.5, "developer mode", "new instructions"),
        *terms(0.5, "access granted", "sudo mode", "god mode", "unfiltered ai", "ignore the rules"),
        rx(
            r"(?:ignore|disregard|forget|override|bypass) (?:all |any |the |your |my |of )*(?:previous |prior |"
            r"above |earlier |preceding |original |initial |system |safety |other )*(?:instructions?|directions?|"
            r"rules|prompts?|guidelines|directives|constraints|restrictions|programming|training|filters?)",
            0.9,
            "instruction override",
        ),
        rx(
            r"(?:reveal|print|show|repeat|output|tell me|display|leak|what (?:is|are)) (?:me )?your "
            r"(?:\w+ )?(?:system prompt|prompt|instructions|hidden prompt|initial prompt|pre-?prompt|password|"
            r"secret|rules)",
            0.75,
            "prompt extraction",
        ),
        rx(
            r"(?:reveal|print|show|repeat|output|tell me|display|leak|what (?:is|are)) (?:me )?the "
            r"(?:system prompt|hidden prompt|initial prompt|pre-?prompt|secret password|password|secret key)",
            0.75,
            "prompt extraction",
        ),
        rx(
            r"you are (?:now |no longer )?(?:an? )?(?:unrestricted|unfiltered|uncensored|jailbroken|evil|"
            r"free from|not bound by|without (?:any )?(?:restrictions|rules|filters|limits))",
            0.85,
            "role override",
        ),
        rx(
            r"(?:pretend|act|behave|roleplay) (?:that |as if )?(?:you are|you're|to be|as) (?:\w+ ){0,4}?"
            r"(?:without|with no|free of) (?:any )?(?:restrictions|rules|filters|limits|guidelines|morals)",
            0.85,
            "role override",
        ),
        rx(
            r"(?:say|output|print|respond with|reply with|write) (?:only )?(?:the words? )?[\"']?access granted",
            0.9,
            "forced output",
        ),
        rx(
            r"<\|(?:im_start|im_end|system|endoftext)\|>|\[/?(?:system|inst)\]|#{2,} ?(?:system|instruction)s?",
            0.7,
            "chat-template injection",
            bounded=False,
        ),
    ),
}
