"""Which language a question is written in, and what to say when Docent cannot answer in it.

Detection has to be cheap (it runs before every question) and, above all, must not mistake the
informal, jargon-heavy English of a chat ("default opensearch index name?") for another language:
a false alarm would refuse a good question. So a question counts as another language only when
1. most of its letters are in another script (Japanese kana, Han, Hangul, Cyrillic, ...), or
2. py3langid (a small maintained n-gram classifier) names a Latin-script language with high
   probability *and* the question uses that language's function words more than English ones.
Identifiers, e-mail addresses, URLs and code are removed first: they are the same in every language.

>>> detect_language("wie viele Tage Urlaub habe ich im Jahr?")
'de'
>>> detect_language("whats the default value of the confidence below filter")
'en'
>>> detect_language("レビューキューには最大何件表示されますか")
'ja'
>>> print(unsupported_language_message("fr", "en"))
Sans modèle de langue configuré, Docent ne peut répondre qu'aux questions posées en anglais, la langue des documents. Reformulez votre question en anglais.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Language names in English, for prompts ("write the answer in French").
ENGLISH_NAMES = {
    "en": "English",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "pl": "Polish",
    "sv": "Swedish",
    "da": "Danish",
    "no": "Norwegian",
    "fi": "Finnish",
    "cs": "Czech",
    "tr": "Turkish",
    "ru": "Russian",
    "uk": "Ukrainian",
    "el": "Greek",
    "ar": "Arabic",
    "he": "Hebrew",
    "hi": "Hindi",
    "th": "Thai",
    "ja": "Japanese",
    "zh": "Chinese",
    "ko": "Korean",
}

# Function words: frequent, short, and (mostly) not English. Used to confirm the classifier.
_FUNCTION_WORDS = {
    "en": "the is are do does how what which where who why can i my a an of to in for on with and or it this that "
    "when if not be",
    "de": "der die das und ist ich wie was wo wer warum kann ein eine nicht mit für auf den dem des zu im es "
    "sich bei gibt habe hat muss welche welcher wann viele mein meine",
    "fr": "le la les des est et je comment quel quelle quels où qui pourquoi peut un une ne pas avec pour sur "
    "du au dans il ce cette que est-ce mon ma mes faut combien",
    "es": "el la los las es y yo cómo como qué que dónde quién por puedo un una no con para en del al se mi mis "
    "hay cuántos cuántas cuál",
    "it": "il lo la gli le è e io come che cosa dove chi perché posso un una non con per su del della nel si "
    "mio mia quanti quante quale",
    "pt": "o a os as é e eu como que onde quem porque posso um uma não com para em do da no na se meu minha "
    "quantos quantas qual",
    "nl": "de het een en is ik hoe wat waar wie waarom kan niet met voor op van te in er mijn welke hoeveel moet",
    "pl": "i w na z jak co gdzie kto dlaczego czy nie jest się do o mój moja ile który która",
    "sv": "och är jag hur vad var vem varför kan en ett inte med för på av till det min hur många vilken",
    "da": "og er jeg hvordan hvad hvor hvem hvorfor kan en et ikke med for på af til det min hvor mange hvilken",
    "tr": "ve bir bu nasıl ne nerede kim neden için ile değil mi mı benim kaç hangi",
}
_WORD_SETS = {lang: frozenset(words.split()) for lang, words in _FUNCTION_WORDS.items()}
LATIN_LANGUAGES = tuple(_WORD_SETS)

_STRIP = re.compile(r"https?://\S+|[\w.+-]+@[\w-]+\.[\w.]+|`[^`]*`|\S*[_/=\\]\S*|\S*\d\S*|--?\w[\w-]*")
_WORD = re.compile(r"[^\W\d_]+(?:[-'][^\W\d_]+)*")
MIN_PROBABILITY = 0.80
MIN_WORDS = 3


def _script_language(letters: str) -> str | None:
    """The language a non-Latin script says, when most letters are in one."""
    if not letters:
        return None
    counts: dict[str, int] = {}
    for ch in letters:
        name = unicodedata.name(ch, "")
        for script in (
            "HIRAGANA",
            "KATAKANA",
            "CJK",
            "HANGUL",
            "CYRILLIC",
            "ARABIC",
            "GREEK",
            "HEBREW",
            "DEVANAGARI",
            "THAI",
        ):
            if name.startswith(script):
                counts[script] = counts.get(script, 0) + 1
                break
    other = sum(counts.values())
    if other < 0.3 * len(letters):
        return None
    if counts.get("HIRAGANA") or counts.get("KATAKANA"):
        return "ja"
    script = max(counts, key=counts.__getitem__)
    return {
        "CJK": "zh",
        "HANGUL": "ko",
        "CYRILLIC": "ru",
        "ARABIC": "ar",
        "GREEK": "el",
        "HEBREW": "he",
        "DEVANAGARI": "hi",
        "THAI": "th",
    }[script]


@lru_cache(maxsize=1)
def _classifier():
    """py3langid restricted to the Latin-script languages above; None when it is not installed."""
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier  # noqa: F401
    except ImportError:
        return None
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LATIN_LANGUAGES))
    return identifier


def _function_word_votes(words: list[str]) -> dict[str, int]:
    return {lang: sum(1 for w in words if w in wordset) for lang, wordset in _WORD_SETS.items()}


def detect_language(text: str, default: str = "en") -> str:
    """ISO 639-1 code of the question's language; `default` when unsure."""
    cleaned = _STRIP.sub(" ", text or "")
    letters = "".join(ch for ch in cleaned if ch.isalpha())
    script = _script_language(letters)
    if script:
        return script
    words = [w.lower() for w in _WORD.findall(cleaned)]
    if len(words) < MIN_WORDS:
        return default
    votes = _function_word_votes(words)
    other = max(v for lang, v in votes.items() if lang != "en")
    if other == 0 or (votes["en"] >= 2 and votes["en"] > other):
        return "en" if default == "en" or votes["en"] >= 2 else default  # plainly English: no classifier needed
    classifier = _classifier()
    if classifier is not None:
        lang, probability = classifier.classify(" ".join(words))
        if probability < MIN_PROBABILITY:
            return default
        if lang == "en":
            return "en"
        return lang if votes.get(lang, 0) > votes["en"] else default
    # no classifier: function words alone, with a clear margin
    best = max((lang for lang in votes if lang != "en"), key=votes.__getitem__)
    return best if votes[best] >= 2 and votes[best] > 2 * votes["en"] else default


# What Docent says when it cannot answer in the user's language (no language model configured).
# {language}: the documents' language, named in the user's language where the table knows it.
UNSUPPORTED = {
    "en": "Without a language model configured, Docent can only answer questions asked in {language}, the "
    "language of the documents. Please ask your question in {language}.",
    "de": "Ohne konfiguriertes Sprachmodell kann Docent nur Fragen auf {language} beantworten, in der Sprache der "
    "Dokumente. Bitte stellen Sie Ihre Frage auf {language}.",
    "fr": "Sans modèle de langue configuré, Docent ne peut répondre qu'aux questions posées en {language}, la "
    "langue des documents. Reformulez votre question en {language}.",
    "es": "Sin un modelo de lenguaje configurado, Docent solo puede responder preguntas en {language}, el idioma "
    "de los documentos. Haga su pregunta en {language}, por favor.",
    "it": "Senza un modello linguistico configurato, Docent può rispondere solo a domande in {language}, la "
    "lingua dei documenti. Riformula la domanda in {language}.",
    "pt": "Sem um modelo de linguagem configurado, o Docent só responde a perguntas em {language}, a língua dos "
    "documentos. Faça a sua pergunta em {language}, por favor.",
    "nl": "Zonder ingesteld taalmodel kan Docent alleen vragen in het {language} beantwoorden, de taal van de "
    "documenten. Stel je vraag alstublieft in het {language}.",
    "pl": "Bez skonfigurowanego modelu językowego Docent odpowiada tylko na pytania po {language}, w języku "
    "dokumentów. Zadaj pytanie po {language}.",
    "sv": "Utan en konfigurerad språkmodell kan Docent bara svara på frågor på {language}, dokumentens språk. "
    "Ställ din fråga på {language}.",
    "da": "Uden en konfigureret sprogmodel kan Docent kun besvare spørgsmål på {language}, dokumenternes sprog. "
    "Stil dit spørgsmål på {language}.",
    "tr": "Yapılandırılmış bir dil modeli olmadan Docent yalnızca belgelerin dili olan {language} sorulan "
    "soruları yanıtlayabilir. Lütfen sorunuzu {language} sorun.",
    "ru": "Без настроенной языковой модели Docent отвечает только на вопросы на {language} языке, языке "
    "документов. Пожалуйста, задайте вопрос на {language} языке.",
    "ja": "言語モデルが設定されていないため、Docent はドキュメントの言語である{language}の質問にしか回答できません。"
    "{language}で質問してください。",
    "zh": "由于未配置语言模型，Docent 只能回答用文档语言{language}提出的问题。请用{language}提问。",
    "ko": "언어 모델이 설정되어 있지 않아 Docent는 문서의 언어인 {language}로 된 질문에만 답할 수 있습니다. "
    "{language}로 질문해 주세요.",
}

# The documents' language named in the user's language (English documents are the common case).
_ENGLISH_IN = {
    "en": "English",
    "de": "Englisch",
    "fr": "anglais",
    "es": "inglés",
    "it": "inglese",
    "pt": "inglês",
    "nl": "Engels",
    "pl": "angielsku",
    "sv": "engelska",
    "da": "engelsk",
    "tr": "İngilizce",
    "ru": "английском",
    "ja": "英語",
    "zh": "英语",
    "ko": "영어",
}


def unsupported_language_message(user_language: str, documents_language: str) -> str:
    """The message in the user's language (English when the table lacks it)."""
    template = UNSUPPORTED.get(user_language, UNSUPPORTED["en"])
    lang = user_language if user_language in UNSUPPORTED else "en"
    if documents_language == "en":
        name = _ENGLISH_IN[lang]
    else:
        name = ENGLISH_NAMES.get(documents_language, documents_language) if lang == "en" else documents_language
    return template.format(language=name)
