package io.faultline.content;

import io.faultline.call.LlmCall;
import io.faultline.classify.CallFailures;
import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.QualityFailure.Type;
import jakarta.inject.Singleton;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * QUALITY {@code language_drift}: the answer is in another language than the one expected, which is the language set
 * in metadata ({@code language}), else the one the system prompt asks answers in, else the language of the user's
 * messages. Both sides must be long enough and
 * identified with confidence; structured output, code and JSON answers are never judged.
 */
@Singleton
public class LanguageRules extends ContentRule {

    /**
     * Asking for a translation, or naming a language, makes an answer in another language the right one. Stays on
     * java.util.regex for its Unicode word boundaries ("übersetz…"); it is linear all the same: every alternative
     * starts with a literal word and its only unbounded part, {@code \w*}, is followed by a boundary that holds at
     * the end of the run, so no start position backtracks.
     */
    private static final Pattern TRANSLATION_REQUEST = Pattern.compile(
            "(?iu)\\b(translat\\w*|übersetz\\w*|traduc\\w*|tradu[zi]\\w*|vertaal\\w*|"
                    + "in (english|german|french|spanish|italian|portuguese|dutch|polish|swedish|turkish|romanian"
                    + "|czech|russian|ukrainian|bulgarian|chinese|mandarin|japanese|korean|arabic|persian|farsi"
                    + "|hebrew|hindi|greek|thai)|"
                    + "(auf|ins) (englisch|deutsch|französisch|spanisch|italienisch|portugiesisch|niederländisch"
                    + "|polnisch|schwedisch|türkisch|rumänisch|tschechisch|russisch|ukrainisch|bulgarisch|chinesisch"
                    + "|japanisch|koreanisch|arabisch|persisch|hebräisch|griechisch)|"
                    + "en (anglais|allemand|français|espagnol|italien|portugais|néerlandais|inglés|alemán|francés)|"
                    + "in het (engels|duits|frans|spaans))\\b");

    /**
     * The word "translate" in the other scripts, looked up as lower-cased substrings (Han and Thai have no word
     * boundaries), and only in text that holds a letter beyond Latin: as branches of the pattern above they made
     * it five times dearer on every English call.
     */
    private static final String[] TRANSLATE_WORDS = {"翻訳", "翻译", "번역", "перевод", "переведи", "перевести",
        "перекла", "ترجم", "תרגמ", "תרגום", "अनुवाद", "μετάφρασ", "μεταφράσ", "แปล"};

    static boolean asksForTranslation(String text) {
        if (TRANSLATION_REQUEST.matcher(text).find()) {
            return true;
        }
        for (int i = 0; i < text.length(); i++) {
            if (text.charAt(i) >= 0x0370) {
                String lower = text.toLowerCase(java.util.Locale.ROOT);
                for (String word : TRANSLATE_WORDS) {
                    if (lower.contains(word)) {
                        return true;
                    }
                }
                return false;
            }
        }
        return false;
    }

    /**
     * A language named after "in", "auf" or "en" ("answer in French", "antworte auf Deutsch", "réponds en
     * français"): a system prompt asking for it sets the expected language when a verb of answering comes shortly
     * before, in the same sentence (see {@link #askedInSystemPrompt}). Linear: one literal word, one blank, one
     * alternation of literal names.
     */
    private static final Pattern LANGUAGE_NAMED = Pattern.compile(
            "(?iu)\\b(?:in|auf|en) (english|german|french|spanish|italian|portuguese|dutch|polish|swedish|turkish"
                    + "|romanian|czech|russian|ukrainian|bulgarian|chinese|mandarin|japanese|korean|arabic|persian"
                    + "|farsi|hebrew|hindi|greek|thai|englisch|deutsch|französisch|spanisch|italienisch"
                    + "|portugiesisch|niederländisch|polnisch|russisch|chinesisch|japanisch|anglais|allemand"
                    + "|français|espagnol|italien|portugais|néerlandais|inglés|alemán|francés|español)\\b");

    private static final Map<String, String> LANGUAGE_CODES = Map.ofEntries(Map.entry("english", "en"),
            Map.entry("german", "de"), Map.entry("french", "fr"), Map.entry("spanish", "es"),
            Map.entry("italian", "it"), Map.entry("portuguese", "pt"), Map.entry("dutch", "nl"),
            Map.entry("polish", "pl"), Map.entry("swedish", "sv"), Map.entry("turkish", "tr"),
            Map.entry("romanian", "ro"), Map.entry("czech", "cs"), Map.entry("russian", "ru"),
            Map.entry("ukrainian", "uk"), Map.entry("bulgarian", "bg"), Map.entry("chinese", "zh"),
            Map.entry("mandarin", "zh"), Map.entry("japanese", "ja"), Map.entry("korean", "ko"),
            Map.entry("arabic", "ar"), Map.entry("persian", "fa"), Map.entry("farsi", "fa"),
            Map.entry("hebrew", "he"), Map.entry("hindi", "hi"), Map.entry("greek", "el"), Map.entry("thai", "th"),
            Map.entry("englisch", "en"), Map.entry("deutsch", "de"), Map.entry("französisch", "fr"),
            Map.entry("spanisch", "es"), Map.entry("italienisch", "it"), Map.entry("portugiesisch", "pt"),
            Map.entry("niederländisch", "nl"), Map.entry("polnisch", "pl"), Map.entry("russisch", "ru"),
            Map.entry("chinesisch", "zh"), Map.entry("japanisch", "ja"), Map.entry("anglais", "en"),
            Map.entry("allemand", "de"), Map.entry("français", "fr"), Map.entry("espagnol", "es"),
            Map.entry("italien", "it"), Map.entry("portugais", "pt"), Map.entry("néerlandais", "nl"),
            Map.entry("inglés", "en"), Map.entry("alemán", "de"), Map.entry("francés", "fr"),
            Map.entry("español", "es"));

    /** Stems of answering, looked for just before a named language: "answer", "antworte", "réponds", ... */
    private static final String[] ANSWER_VERBS = {"answer", "respond", "respons", "reply", "write", "speak",
        "communicat", "output", "antwort", "schreib", "répon", "repon", "écri", "responde", "contesta", "escrib"};

    /** How far before a named language its verb may stand: "always answer the customer only in French". */
    private static final int VERB_REACH = 60;

    /**
     * The language a system prompt asks answers to be in ("Always answer in French"), or null. Naming a language
     * without a verb of answering before it in the same sentence ("an expert in French literature") asks nothing;
     * asking for several ("answer in English or in German", "if the user writes in German, answer in German,
     * otherwise in English") names no one language either.
     */
    static String askedInSystemPrompt(String system) {
        if (system.isEmpty()) {
            return null;
        }
        String asked = null;
        java.util.regex.Matcher named = LANGUAGE_NAMED.matcher(system);
        while (named.find()) {
            int from = Math.max(0, named.start() - VERB_REACH);
            for (int i = named.start() - 1; i >= from; i--) {
                char c = system.charAt(i);
                if (c == '.' || c == '!' || c == '?' || c == '\n') {
                    from = i + 1;
                    break;
                }
            }
            String before = system.substring(from, named.start()).toLowerCase(java.util.Locale.ROOT);
            for (String verb : ANSWER_VERBS) {
                if (before.contains(verb)) {
                    String code = LANGUAGE_CODES.get(named.group(1).toLowerCase(java.util.Locale.ROOT));
                    if (asked != null && !asked.equals(code)) {
                        return null;
                    }
                    asked = code;
                    break;
                }
            }
        }
        return asked;
    }

    private final LanguageConfig language;
    private final LanguageIdentifier identifier;
    private final FunctionWords functionWords;

    public LanguageRules(ContentConfig config, LanguageConfig language) {
        super(config);
        this.language = language;
        this.identifier = new LanguageIdentifier(language.languages(), language.minScriptShare());
        this.functionWords = new FunctionWords(identifier.languages());
    }

    @Override
    protected List<Failure> detect(LlmCall call, CallContent content) {
        if (!call.success() || !content.hasAnswer() || !config.detects(Type.LANGUAGE_DRIFT)
                || (content.responseFormat() != null && content.responseFormat().structured())
                || !sampled(call.callId(), language.sampleRate())) {
            return List.of();
        }
        // The budget: beyond it the text costs time and changes no verdict.
        String answer = cut(content.answer(), language.maxChars());
        if (looksStructured(answer)) {
            return List.of();
        }
        // Code written without backticks (bare, indented, in a ~~~ fence) or markup carries the language of its
        // keywords, not the answer's: only the prose around it is judged, and the letter minimum still applies.
        answer = withoutCodeLines(answer);
        String expected = content.expectedLanguage();
        String source = "metadata";
        if (expected == null) {
            // The operator's system prompt may ask for a language other than the user's ("Always answer in French");
            // a user asking for yet another ("in English, please") still wins.
            String asked = askedInSystemPrompt(cut(content.textOf("system"), language.maxChars()));
            if (asked != null && !(language.skipTranslationRequests()
                    && asksForTranslation(cut(askedText(content, false), language.maxChars())))) {
                if (!identifier.languages().contains(asked)) {
                    return List.of(); // asked for a language the identifier cannot say yes or no to
                }
                expected = asked;
                source = "system_prompt";
            }
        }
        double expectedConfidence = 1.0;
        // Most answers are plainly in the language asked: when the function words of both sides say so, the n-gram
        // identifier (the dearest content check) is not needed. Only "same" is decided this way, never "drift".
        String answerWords = language.shortcutFunctionWords() > 0
                ? functionWords.dominant(answer, language.shortcutFunctionWords()) : null;
        if (expected != null && expected.equals(answerWords)) {
            return List.of();
        }
        if (expected == null) {
            // This turn's user messages say which language is expected now (a user who switches language is
            // followed); a turn too short to tell leaves it to the whole conversation.
            String turn = askedText(content, true);
            boolean turnTells = LanguageIdentifier.letters(turn) >= language.minRequestLetters();
            String userText = cut(turnTells ? turn : askedText(content, false), language.maxChars());
            if (answerWords != null
                    && answerWords.equals(functionWords.dominant(userText, language.shortcutFunctionWords()))) {
                return List.of();
            }
            // Only now, with the languages possibly apart, does a translation request matter (its regex is not free).
            // Asked in any turn ("answer in French from now on"), it still holds.
            if (language.skipTranslationRequests() && asksForTranslation(turnTells
                    ? cut(askedText(content, false), language.maxChars()) : userText)) {
                return List.of();
            }
            Optional<LanguageIdentifier.Guess> asked = identifier.identify(userText, language.minRequestLetters());
            if (asked.isEmpty() || asked.get().probability() < language.minConfidence()) {
                return List.of();
            }
            expected = asked.get().language();
            expectedConfidence = asked.get().probability();
            source = "request";
        } else if (!identifier.languages().contains(expected)) {
            // The identifier cannot say yes or no to a language it does not know.
            return List.of();
        }
        Optional<LanguageIdentifier.Guess> answered = identifier.identify(answer, language.minAnswerLetters());
        if (answered.isEmpty() || answered.get().probability() < language.minConfidence()
                || answered.get().language().equals(expected)) {
            return List.of();
        }
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("expected_language", expected);
        evidence.put("expected_from", source);
        if ("request".equals(source)) {
            evidence.put("request_confidence", round(expectedConfidence));
        }
        evidence.put("answer_language", answered.get().language());
        evidence.put("answer_confidence", round(answered.get().probability()));
        // "script" when the Unicode script of the letters alone named the language, else "ngram".
        evidence.put("decided_by", answered.get().byScript() ? "script" : "ngram");
        evidence.put("letters_judged", answered.get().letters());
        evidence.put("min_confidence", language.minConfidence());
        evidence.put("sample_rate", language.sampleRate());
        return List.of(CallFailures.of(Type.LANGUAGE_DRIFT, call, "content.language.ngram", language.severity(),
                evidence));
    }

    /**
     * The user messages without the grounding documents pasted into them ({@link GroundingFinder}): a RAG
     * application that sends its English documents with a German question asked in German, and an answer in German
     * is no drift. Only the words the caller wrote around its documents say which language it expects. With
     * {@code thisTurn}, only the user messages after the last assistant message.
     */
    static String askedText(CallContent content, boolean thisTurn) {
        List<CallContent.Message> messages = content.messages();
        int from = 0;
        if (thisTurn) {
            // The user messages after the last assistant turn: what was asked now.
            for (int i = messages.size() - 1; i >= 0; i--) {
                if ("assistant".equals(messages.get(i).role())) {
                    from = i + 1;
                    break;
                }
            }
        }
        StringBuilder out = new StringBuilder();
        for (CallContent.Message message : messages.subList(from, messages.size())) {
            if ("user".equals(message.role()) && !message.text().isEmpty()) {
                if (!out.isEmpty()) {
                    out.append("\n\n");
                }
                out.append(GroundingFinder.withoutDocuments(message.text()));
            }
        }
        return out.toString();
    }

    /** Whether the call falls in the judged sample: a stable hash of its id, so a resend is judged the same way. */
    static boolean sampled(String callId, double rate) {
        if (rate >= 1.0) {
            return true;
        }
        int h = callId.hashCode() * 0x9E3779B1;
        return Math.floorMod(h ^ (h >>> 16), 10_000) < rate * 10_000;
    }

    /** JSON or mostly-code answers carry no natural language to judge. */
    static boolean looksStructured(String answer) {
        String trimmed = answer.strip();
        if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
            return true;
        }
        int nonSpace = 0;
        for (int i = 0; i < trimmed.length(); i++) {
            if (!Character.isWhitespace(trimmed.charAt(i))) {
                nonSpace++;
            }
        }
        // Under half letters once code and markup are removed: code, tables of numbers, or symbols. Without a
        // backtick there is no code to remove, and counting the raw letters spares the regexes.
        String prose = trimmed.indexOf('`') < 0 ? trimmed : LanguageIdentifier.prose(trimmed);
        return nonSpace > 0 && LanguageIdentifier.letters(prose) * 2 < nonSpace;
    }

    private static final String[] CODE_OPENERS = {"def ", "class ", "import ", "from ", "return ", "function ",
        "const ", "let ", "var ", "fn ", "func ", "package ", "public ", "private ", "#include", "#!", "$ ", "@"};
    private static final String[] CODE_MARKS = {"==", "!=", " = ", "=>", "->", "&&", "||", "::", "();", "--"};

    /** The text without the lines that read as code or markup; the same instance when there are none. Linear. */
    static String withoutCodeLines(String text) {
        StringBuilder out = null;
        boolean fenced = false;
        int n = text.length();
        int start = 0;
        while (start < n) {
            int end = text.indexOf('\n', start);
            end = end < 0 ? n : end;
            String line = text.substring(start, end);
            String stripped = line.strip();
            boolean fence = stripped.startsWith("~~~") || stripped.startsWith("```");
            boolean code = fence || fenced || codeLine(line, stripped);
            fenced ^= fence;
            if (code && out == null) {
                out = new StringBuilder(n).append(text, 0, start);
            }
            if (out != null && !code) {
                out.append(line).append('\n');
            }
            start = end + 1;
        }
        return out == null ? text : out.toString();
    }

    private static boolean codeLine(String line, String stripped) {
        if (stripped.isEmpty()) {
            return false;
        }
        if (line.startsWith("    ") || line.startsWith("\t")) {
            return true; // a Markdown indented code block, or the body of a block
        }
        if (stripped.charAt(0) == '>') {
            return true; // a Markdown block quote: the words quoted (the user's question, a source), not the answer's
        }
        if (stripped.charAt(0) == '"' && stripped.indexOf("\":") > 0) {
            return true; // a JSON member, "description": "...": its keys and values are data, whatever the indent
        }
        if (stripped.charAt(0) == '|' || pipes(stripped) >= 2) {
            return true; // a Markdown table row: its cells are the data shown (names, values), not the answer's prose
        }
        if (yamlKey(stripped)) {
            return true; // a YAML mapping, "description: ...", "- name: ...": configuration the answer shows
        }
        if (jsonStrings(stripped)) {
            return true; // a JSON string list item, "...", or a list of strings on one line, ["...", "..."]
        }
        char last = stripped.charAt(stripped.length() - 1);
        if (last == '{' || last == '}' || last == ';' || (last == '>' && stripped.charAt(0) == '<')) {
            return true;
        }
        if (last == ':' && stripped.indexOf(' ') < 0 || last == ')' && stripped.indexOf(' ') < 0) {
            return true; // "else:", "main()"
        }
        for (String opener : CODE_OPENERS) {
            if (stripped.startsWith(opener)) {
                return true;
            }
        }
        for (String mark : CODE_MARKS) {
            int at = stripped.indexOf(mark);
            // "--" marks an option ("--recursive"), not a dash between words.
            if (at >= 0 && (!mark.equals("--") || at + 2 < stripped.length()
                    && Character.isLetter(stripped.charAt(at + 2)))) {
                return true;
            }
        }
        return false;
    }

    private static int pipes(String line) {
        int pipes = 0;
        for (int i = 0; i < line.length(); i++) {
            if (line.charAt(i) == '|') {
                pipes++;
            }
        }
        return pipes;
    }

    /**
     * {@code (- )?[a-z][A-Za-z0-9_.-]*:( |$)}: a YAML key, lower case first as configuration keys are (a German noun
     * before a colon, "Hinweis: ...", is capitalised). One pass over the key.
     */
    static boolean yamlKey(String stripped) {
        int i = stripped.startsWith("- ") ? 2 : 0;
        int n = stripped.length();
        if (i >= n || stripped.charAt(i) < 'a' || stripped.charAt(i) > 'z') {
            return false;
        }
        while (i < n) {
            char c = stripped.charAt(i);
            if (c == ':') {
                return i + 1 == n || stripped.charAt(i + 1) == ' ';
            }
            if (!(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.'
                    || c == '-')) {
                return false;
            }
            i++;
        }
        return false;
    }

    /** A line that is a JSON string ({@code "...",}) or a list holding strings ({@code ["...", "..."]}). */
    static boolean jsonStrings(String stripped) {
        String line = stripped.endsWith(",") ? stripped.substring(0, stripped.length() - 1).stripTrailing() : stripped;
        if (line.length() < 2) {
            return false;
        }
        char first = line.charAt(0);
        char last = line.charAt(line.length() - 1);
        return first == '"' && last == '"' || first == '[' && last == ']' && line.indexOf('"') > 0;
    }

    private static String cut(String text, int max) {
        return text.length() > max ? text.substring(0, Math.max(0, max)) : text;
    }

    private static double round(double value) {
        return Math.round(value * 1000) / 1000.0;
    }
}
