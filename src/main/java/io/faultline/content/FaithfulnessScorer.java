package io.faultline.content;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Scores how far an answer's words are supported by its grounding documents: a cheap, deterministic, lexical check
 * that runs on the ingest path (one pass over the grounding to build a table of hashed word keys, one pass over the
 * answer; no per-token strings).
 * <p>
 * Method. The answer is cut into claims (sentences) and content units: numbers (digits, number words, ordinals),
 * names (capitalised tokens that do not open a sentence, and acronyms) and other words; stopwords carry no weight.
 * A sentence whose every content unit is a courtesy word (thanks, glad, hope, let … know, anything else, feel free,
 * regards; English and German) makes no claim about the grounding and is left out: a grounded support answer that
 * opens with "Thanks for reaching out." and closes with "Let me know if there is anything else." is not two
 * unsupported claims of four. A sentence with one other word, a name or a number is judged whole.
 * Words are lower-cased, lose a possessive or plural {@code s} and are truncated to their first six letters, so
 * that "American" meets "America" and "founded" meets "founder". A unit is supported when its key occurs in a
 * grounding document or in the question (restating the question is not a hallucination). The support score is the
 * weighted share of supported units. A number the grounding does not hold is still supported when it is a grounded
 * number written otherwise or rounded ("3.5" for 3.50, "12%" for 12.34%, "$1.2 million" or "$1.2M" for
 * $1,234,000), or when it is derived: a
 * sum, difference, product, ratio, percentage or percentage change of two grounded numbers, up to the rounding its
 * writing implies (at most 32 grounded operands and 6 such checks per answer, so the cost stays bounded). A number is
 * <em>contradicted</em> when it is unsupported while the grounding states a number of the same kind (a year where the
 * grounding has another year).
 * <p>
 * Types. A claim is <em>unsupported</em> when its own support is below
 * {@link FaithfulnessConfig#hallucinationThreshold()}, or it holds enough unsupported names/numbers, or a contradicted
 * number. {@code hallucination}: unsupported claims dominate (at least
 * {@link FaithfulnessConfig#hallucinationClaimShare()} of the claims) or the whole answer's support is below the
 * hallucination threshold. {@code low_faithfulness}: support is partial, some claim unsupported but not most, or
 * support below {@link FaithfulnessConfig#lowFaithfulnessThreshold()}. An answer that abstains (it says it does not
 * know, or that the grounding does not hold the answer, in English or German, or in the commonest phrasings of
 * French, Spanish, Italian, Portuguese and Dutch) is faithful and gets no verdict; so does an answer about to be
 * flagged that is plainly in another language than every grounding document ({@link #inAnotherLanguage}).
 * <p>
 * Limits: words, not meaning. An answer that recombines grounded names into a false relation ("X directed Y" when
 * the grounding says Y directed X) passes; so does a negation. A faithful paraphrase with synonyms the grounding
 * lacks loses support. Answer length is never a signal beyond {@link FaithfulnessConfig#minAnswerUnits()}.
 * Thread-safe and immutable.
 */
public final class FaithfulnessScorer {

    /** Why an answer got, or did not get, a verdict. */
    public enum Outcome {
        JUDGED, NO_GROUNDING, NO_ANSWER, REFUSAL, TOO_FEW_UNITS, OTHER_LANGUAGE
    }

    /**
     * The check's result for one answer.
     *
     * @param support             weighted share of supported content units, 0..1 (1 when not judged)
     * @param claims              sentences of the answer that hold at least one content unit
     * @param units               content units of the answer
     * @param unsupported         units found neither in the grounding nor in the question
     * @param unsupportedEntities unsupported names and numbers among them
     * @param contradicted        unsupported numbers where the grounding states another of the same kind
     * @param unsupportedClaims   claims that are themselves unsupported (see the class comment)
     * @param derivedNumbers      numbers of the answer found as a sum, difference, ratio or percentage of two
     *                            grounded numbers, and counted as supported
     * @param courtesySentences   sentences left out of the judgement because every content word in them is a
     *                            courtesy ("Thanks for reaching out.", "Let me know if there is anything else.")
     * @param unsupportedExamples up to three unsupported units as written (names and numbers first), unmasked: for
     *                            the process only, never stored
     * @param unsupportedAt       where those units sit in the answer (kind, character offset, length): what evidence
     *                            keeps instead of the words
     * @param truncated           the answer or the grounding was longer than the configured bound
     */
    /** An answer's unit by position only: {@code kind} is number, name or word; {@code offset} counts chars. */
    public record UnitPosition(String kind, int offset, int chars) {
    }

    public record Verdict(Outcome outcome, double support, int claims, int units, int unsupported,
            int unsupportedEntities, int contradicted, int unsupportedClaims, int derivedNumbers,
            int courtesySentences, List<String> unsupportedExamples, List<UnitPosition> unsupportedAt,
            boolean hallucination, boolean lowFaithfulness, boolean truncated) {

        static Verdict skipped(Outcome outcome) {
            return new Verdict(outcome, 1.0, 0, 0, 0, 0, 0, 0, 0, 0, List.of(), List.of(), false, false, false);
        }

        public boolean judged() {
            return outcome == Outcome.JUDGED;
        }

        /** Either type's condition holds: the strong form implies the weak one. */
        public boolean unfaithful() {
            return hallucination || lowFaithfulness;
        }
    }

    static final int MAX_EXAMPLES = 3;
    /** Grounded numbers a derived number may be computed from, and derived-number checks per answer. */
    static final int MAX_OPERANDS = 32;
    static final int MAX_DERIVED_CHECKS = 6;
    private static final int STEM = 6;
    private static final int REFUSAL_WINDOW = 300;

    /*
     * Answers that decline, or say that the grounding does not hold the answer: faithful abstentions, not
     * hallucinations, and judging their words would only add noise. Phrase families in English and German (a
     * source noun, then "does not contain/mention/say…", "no information on…", "not mentioned in…", "cannot be
     * determined from…", "is not in the context", "I don't have information…", "none of the documents mention…"),
     * and the commonest in French, Spanish, Italian, Portuguese and Dutch (a source noun and a negated "mention",
     * "not mentioned", "there is no information"), read in the first REFUSAL_WINDOW characters only, so the cost is
     * bounded whatever the answer's length; the only open parts are bounded ({0,60}, one word of at most 20
     * letters). Limit: an answer that abstains and then claims something anyway is not judged either.
     */
    private static final String SOURCE_EN = "(?:context|documents?|passages?|texts?|sources?|information|article"
            + "|excerpts?|material|snippets?|records?|data|provided \\w+|given \\w+)";
    private static final String SOURCE_DE = "(?:kontext|dokument(?:e|en)?|text(?:e|en)?|quellen?|abschnitt|"
            + "unterlagen|informationen|angaben|material|auszug|passage)";
    private static final String SOURCE_FR = "(?:contexte|documents?|textes?|sources?|passages?|extraits?"
            + "|informations?|données)";
    private static final String SOURCE_ES = "(?:contexto|documentos?|textos?|fuentes?|pasajes?|fragmentos?"
            + "|información|datos)";
    private static final String SOURCE_IT = "(?:contesto|document[oi]|test[oi]|font[ei]|passagg(?:io|i)|brano"
            + "|informazioni|dati)";
    private static final String SOURCE_PT = "(?:contexto|documentos?|textos?|fontes?|passagens?|trechos?"
            + "|informaç(?:ão|ões)|dados)";
    private static final String SOURCE_NL = "(?:context|document(?:en)?|tekst(?:en)?|bronn?en|bron|passage"
            + "|fragment|informatie|gegevens)";
    /** At most one word (an adjective: "fourni", "provided") between a source noun and its verb. */
    private static final String ONE_WORD = "(?:[^\\s.!?]{1,20} )?";
    private static final Pattern REFUSAL = Pattern.compile("(?i)(?:\\bi (?:do not|don't|don’t) know"
            + "|\\bi(?:'m| am) (?:not sure|unable to)|\\bi (?:cannot|can't|can’t|could not|couldn't|couldn’t)"
            + " (?:answer|find|determine|tell|say|see|locate)"
            + "|(?:not|no) enough information|insufficient (?:information|context|detail)"
            + "|unable to (?:answer|find|determine)"
            + "|\\b(?:no|any) (?:information|mention|details?|data|indication|reference)"
            + " (?:about|on|of|regarding|as to|concerning|that|for)"
            + "|\\bmakes? no (?:mention|reference)|\\bsays? nothing (?:about|on)|\\bis silent (?:on|about)"
            + "|" + SOURCE_EN + "(?: provided| given| above| supplied)? (?:does|do|did)(?: not|n't|n’t)"
            + " (?:\\w+ )?(?:contain|mention|provide|include|specify|say|state|indicate|cover|discuss|address"
            + "|give|list|name|offer|reveal|tell|answer)"
            + "|(?:is|are|was|were)(?: not|n't|n’t) (?:mentioned|stated|specified|provided|given|included|covered"
            + "|found|listed|named|available|addressed|discussed|indicated)(?: anywhere)? in"
            + "|(?:is|are|was|were)(?: not|n't|n’t) (?:in|part of|covered by|contained in|found in)"
            + " (?:the |this |that |these |any of the |any )?(?:provided |given |supplied |above |available )?"
            + SOURCE_EN
            + "|\\bi (?:do not|don't|don’t|did not|didn't|didn’t) have (?:any |enough |sufficient |the |that |this "
            + "|specific |access to (?:the |that |this |any )?)?(?:information|details?|data|context|knowledge)"
            + "|\\bnone of the (?:provided |given |supplied |above )?" + SOURCE_EN + " (?:\\w+ )?(?:mentions?|contains?"
            + "|provides?|includes?|specif(?:y|ies)|says?|states?|indicates?|covers?|discuss(?:es)?|gives?|lists?)"
            + "|\\bnothing in the (?:provided |given |supplied |above )?" + SOURCE_EN
            + " (?:\\w+ )?(?:indicates|mentions|says|states|suggests|specifies|shows|tells)"
            + "|(?:not possible|impossible) to (?:determine|tell|say|answer|know|find|infer|establish)[^.!?]{0,60}"
            + " (?:from|based on|in|given|with) (?:the |this |these )?(?:provided |given |available )?" + SOURCE_EN
            + "|(?:cannot|can't|can’t|can not) be (?:determined|answered|found|inferred|deduced|established|known)"
            + " (?:from|based on|with|using)"
            // German
            + "|\\bich wei(?:ß|ss) (?:es )?nicht|\\bkeine (?:angaben?|informationen|hinweise|aussagen?|daten)"
            + " (?:zu|über|darüber|dazu|hierzu|zum|zur|bezüglich)"
            + "|" + SOURCE_DE + " (?:enthält|enthalten|nennt|nennen|erwähnt|erwähnen|sagt|sagen|macht|machen"
            + "|gibt|geben|liefert|liefern)(?: \\w+){0,3} (?:keine|nichts|nicht)"
            + "|(?:geht|ergibt sich)[^.!?]{0,40} nicht hervor"
            + "|\\bnicht (?:erwähnt|angegeben|genannt|enthalten|beschrieben|aufgeführt)"
            + "|(?:lässt|lassen) sich[^.!?]{0,40} nicht (?:bestimmen|beantworten|sagen|entnehmen|feststellen|ableiten)"
            + "|\\bdarüber (?:steht|finde ich|gibt es) (?:nichts|keine)"
            // French
            + "|" + SOURCE_FR + " " + ONE_WORD + "ne " + ONE_WORD + "(?:mentionne|précise|contient|indique|fournit"
            + "|donne|dit|cite|aborde|évoque|traite)(?:nt)? (?:pas|aucune?|rien)"
            + "|(?:n['’]est|ne sont) pas (?:mentionn|précis|indiqu|fourni|donn|disponible|spécifi|abord|évoqu|cit)"
            + "|\\baucune? (?:information|donnée|indication|mention|précision|détail)|\\bje ne sais pas"
            // Spanish
            + "|" + SOURCE_ES + " " + ONE_WORD + "no (?:menciona|contiene|especifica|indica|proporciona|incluye|dice"
            + "|aporta|ofrece|precisa|detalla)n?"
            + "|\\bno se (?:menciona|especifica|indica|proporciona|incluye|dice|detalla|aclara)n?"
            + "|\\bno (?:hay|tengo|dispongo de|se dispone de) " + ONE_WORD
            + "(?:información|datos|detalles|menci[oó]n|referencias?)"
            // Italian
            + "|" + SOURCE_IT + " " + ONE_WORD + "non (?:menziona|contiene|specifica|indica|fornisce|include|dice"
            + "|riporta|cita)(?:no)?"
            + "|\\bnon (?:ci sono|c['’]è|ho|abbiamo) " + ONE_WORD + "(?:informazion[ei]|dati|dettagli|indicazion[ei]"
            + "|riferiment[oi])"
            + "|\\bnessuna (?:informazione|indicazione|menzione)|\\bnon (?:è|sono) (?:menzionat|specificat|indicat"
            + "|riportat|fornit)"
            // Portuguese
            + "|" + SOURCE_PT + " " + ONE_WORD + "não (?:menciona|contém|especifica|indica|fornece|inclui|diz|informa"
            + "|cita)m?"
            + "|\\bnão (?:há|existem?|tenho|temos) " + ONE_WORD + "(?:informaç(?:ão|ões)|dados|detalhes|menção"
            + "|referência)"
            + "|\\bnenhuma (?:informação|menção|indicação)"
            + "|\\bnão (?:é|são|está|estão) (?:mencionad|especificad|indicad|informad|citad)"
            // Dutch
            + "|" + SOURCE_NL + " " + ONE_WORD + "(?:vermeldt|bevat|noemt|zegt|geeft|beschrijft|vermelden|bevatten"
            + "|noemen)(?: \\S+){0,3} (?:niet|geen|niets)"
            + "|\\bgeen (?:informatie|gegevens|vermelding|details) (?:over|van|voor|in|bekend)"
            + "|\\b(?:wordt|staat) (?:niet|nergens) (?:vermeld|genoemd|beschreven|in)|\\bik weet (?:het )?niet)");

    /**
     * Every abstention phrase holds one of these (lower-cased): a few substring searches over the window spare the
     * many-branched pattern on the answers that cannot match it, which are most.
     */
    private static final String[] ABSTENTION_CUES = {"not", "n't", "n’t", "no ", "unable", "insufficient",
        "nothing", "silent", "nicht", "keine", "none", "impossible", " ne ", " n'", " n’", "aucun", "non ", "não",
        "nenhum", "nessun", "geen", "niet", "nergens"};

    static boolean abstains(String answer) {
        String window = answer.length() > REFUSAL_WINDOW ? answer.substring(0, REFUSAL_WINDOW) : answer;
        String lower = window.toLowerCase(java.util.Locale.ROOT);
        for (String cue : ABSTENTION_CUES) {
            if (lower.contains(cue)) {
                return REFUSAL.matcher(window).find();
            }
        }
        return false;
    }

    /** The Latin-script languages whose function words tell an answer's language from its grounding's. */
    private static final FunctionWords LATIN_LANGUAGES = new FunctionWords(List.of("en", "de", "fr", "es", "it",
            "pt", "nl"));
    /** Characters of the answer and of each document read to tell their languages. */
    static final int LANGUAGE_SAMPLE_CHARS = 2048;
    private static final int LANGUAGE_MIN_LETTERS = 20;
    /** Function words a side needs: a wrong verdict here hides a hallucination, so more than the language check. */
    private static final int LANGUAGE_MIN_FUNCTION_WORDS = 4;

    /**
     * Whether the answer is plainly in another language than every grounding document: another script (each holding
     * at least {@link LanguageIdentifier#DEFAULT_MIN_SCRIPT_SHARE} of its letters), or, in Latin script, other
     * function words ({@link FunctionWords}). Words do not meet across languages, so such an answer (English
     * documents, the answer in the user's German or Japanese) would read as all unsupported. Any document that might
     * be in the answer's language, or that cannot be told, keeps the answer judged. Reads at most
     * {@link #LANGUAGE_SAMPLE_CHARS} of the answer and of each document.
     */
    static boolean inAnotherLanguage(String answer, List<String> docs) {
        String sample = head(answer);
        LanguageIdentifier.Script script = plainScript(sample);
        if (script == null) {
            return false;
        }
        String words = script == LanguageIdentifier.Script.LATIN
                ? LATIN_LANGUAGES.dominant(sample, LANGUAGE_MIN_FUNCTION_WORDS) : null;
        boolean told = false;
        for (String doc : docs) {
            if (doc == null || doc.isBlank()) {
                continue;
            }
            String document = head(doc);
            LanguageIdentifier.Script documentScript = plainScript(document);
            if (documentScript == null) {
                return false;
            }
            if (documentScript == script) {
                // The same script: only Latin function words can tell two languages of it apart here.
                String documentWords = script == LanguageIdentifier.Script.LATIN
                        ? LATIN_LANGUAGES.dominant(document, LANGUAGE_MIN_FUNCTION_WORDS) : null;
                if (words == null || documentWords == null || words.equals(documentWords)) {
                    return false;
                }
            }
            told = true;
        }
        return told;
    }

    private static String head(String text) {
        return text.length() > LANGUAGE_SAMPLE_CHARS ? text.substring(0, LANGUAGE_SAMPLE_CHARS) : text;
    }

    /** Whether the word at {@code start} directly follows a code fence's opening {@code ```} or {@code ~~~}. */
    private static boolean fenceInfo(String text, int start) {
        return start >= 3 && (text.startsWith("```", start - 3) || text.startsWith("~~~", start - 3));
    }

    /** The script of most letters when it holds a clear majority of enough of them, else null. */
    private static LanguageIdentifier.Script plainScript(String text) {
        LanguageIdentifier.ScriptCounts counts = LanguageIdentifier.scripts(text);
        LanguageIdentifier.Script script = counts.dominant();
        return counts.total >= LANGUAGE_MIN_LETTERS && script != LanguageIdentifier.Script.OTHER
                && counts.share(script) >= LanguageIdentifier.DEFAULT_MIN_SCRIPT_SHARE ? script : null;
    }

    private static final String STOPWORDS = """
            a an the and or but if then than so as of in on at to for from by with without into onto over under
            about above below between among through during before after since until while is are was were be been
            being am do does did done doing have has had having will would shall should can could may might must
            it its this that these those there here which who whom whose what when where why how all any both each
            either neither few more most other some such no nor not only own same too very just also yet still i me
            my we our you your he him his she her they them their up down out off again further once because
            however although though whereas well even ever yes yeah ok okay s t don didn isn wasn weren aren hasn
            haven hadn won wouldn couldn shouldn don't didn't doesn't isn't wasn't weren't aren't can't won't
            hasn't haven't hadn't couldn't wouldn't shouldn't i'm it's that's there's he's she's they're we're
            you're i've we've they've i'd we'd they'd i'll we'll they'll let's one""";
    private static final String NUMBER_WORDS = "zero one two three four five six seven eight nine ten eleven twelve";
    private static final String ORDINAL_WORDS = "zeroth first second third fourth fifth sixth seventh eighth ninth"
            + " tenth eleventh twelfth";

    /**
     * Words of greetings, thanks, offers of more help and sign-offs (full words, lower case): a sentence made only of
     * these and stopwords is a courtesy, not a claim. Kept to words that carry no fact on their own.
     */
    private static final String COURTESY_WORDS = """
            thanks thank thankful reaching reach contacting hope hoping glad happy pleased delighted let know anything
            else further questions question feel free hesitate ask assist assistance help helped helpful welcome
            hello hi hey dear regards sincerely best wishes wish nice great wonderful day good morning afternoon
            evening cheers apologize apologise apologies sorry inconvenience appreciate appreciated patience
            understanding certainly sure course absolutely enjoy luck care look forward hearing hear again soon
            reply answer message writing write get touch need assistant support team kind kindly
            danke vielen dank für ihre ihr deine anfrage nachricht gerne hallo guten tag liebe lieber grüße
            freundlichen beste weitere weiteren fragen melden sie sich bitte zögern hilfe helfen hoffe freue freuen
            entschuldigen entschuldigung verständnis geduld schönen
            bei mit und zu uns an mich wir ihnen ich einen eine""";

    /** Month names and abbreviations, English and German, by number. */
    private static final String[][] MONTH_NAMES = {{"january", "jan", "januar", "jänner"},
        {"february", "feb", "februar"}, {"march", "mar", "märz"}, {"april", "apr"}, {"may", "mai"},
        {"june", "jun", "juni"}, {"july", "jul", "juli"}, {"august", "aug"}, {"september", "sep", "sept"},
        {"october", "oct", "oktober", "okt"}, {"november", "nov"}, {"december", "dec", "dezember", "dez"}};
    // Full-word hash of a month name -> its bit (1 << month).
    private static final LongTable MONTHS = new LongTable(64);
    private static final LongTable STOP = new LongTable(512);
    private static final LongTable COURTESY = new LongTable(512);
    // Full-word hash of a number word -> key hash of its digits.
    private static final LongTable NUMBER_WORD_KEYS = new LongTable(64);
    // Full-word hash of a cardinal number word -> its value (ordinals are not operands).
    private static final LongTable NUMBER_WORD_VALUES = new LongTable(64);

    static {
        for (String word : STOPWORDS.split("\\s+")) {
            if (!word.isEmpty()) {
                STOP.put(hash(word, 0, word.length()), 0);
            }
        }
        for (String word : COURTESY_WORDS.split("\\s+")) {
            if (!word.isEmpty()) {
                COURTESY.put(hash(word, 0, word.length()), 0);
            }
        }
        for (int month = 1; month <= MONTH_NAMES.length; month++) {
            for (String name : MONTH_NAMES[month - 1]) {
                MONTHS.put(hash(name, 0, name.length()), 1L << month);
            }
        }
        String[] cardinals = NUMBER_WORDS.split(" ");
        String[] ordinals = ORDINAL_WORDS.split(" ");
        for (int i = 0; i < cardinals.length; i++) {
            String digits = Integer.toString(i);
            long key = numberHash(digits, 0, digits.length());
            NUMBER_WORD_KEYS.put(hash(cardinals[i], 0, cardinals[i].length()), key);
            NUMBER_WORD_KEYS.put(hash(ordinals[i], 0, ordinals[i].length()), key);
            NUMBER_WORD_VALUES.put(hash(cardinals[i], 0, cardinals[i].length()), i);
        }
    }

    private final FaithfulnessConfig config;

    public FaithfulnessScorer(FaithfulnessConfig config) {
        this.config = config;
    }

    /** Scores {@code answer} against {@code contextDocs}; the question's words count as supported too. */
    public Verdict score(String answer, String question, List<String> contextDocs) {
        if (answer == null || answer.isBlank()) {
            return Verdict.skipped(Outcome.NO_ANSWER);
        }
        if (contextDocs == null || contextDocs.stream().allMatch(doc -> doc == null || doc.isBlank())) {
            return Verdict.skipped(Outcome.NO_GROUNDING);
        }
        if (abstains(answer)) {
            return Verdict.skipped(Outcome.REFUSAL);
        }

        Grounding grounding = index(question == null ? "" : question, contextDocs);
        int answerEnd = Math.min(answer.length(), config.maxAnswerChars());
        boolean truncated = grounding.truncated || answerEnd < answer.length();

        Token token = new Token();
        int derivedChecks = 0;
        // A sentence's units are added to the answer's totals when it ends, unless it was only a courtesy.
        Claim claim = new Claim();
        Totals totals = new Totals();
        List<String> strongExamples = new ArrayList<>(MAX_EXAMPLES);
        List<String> wordExamples = new ArrayList<>(MAX_EXAMPLES);
        List<UnitPosition> strongAt = new ArrayList<>(MAX_EXAMPLES);
        List<UnitPosition> wordAt = new ArrayList<>(MAX_EXAMPLES);
        int at = 0;
        while ((at = token.next(answer, at, answerEnd)) >= 0) {
            if (token.sentenceStart) {
                totals.close(claim, config, strongExamples, strongAt, wordExamples, wordAt);
            }
            if (!token.number && fenceInfo(answer, token.start)) {
                continue; // "```python": the fence's language tag is markup, not a word of a claim
            }
            UnitKind kind;
            long key;
            if (token.number) {
                kind = UnitKind.NUMBER;
                key = token.key;
            } else {
                if (token.length() < 2 || STOP.contains(token.fullHash)) {
                    continue;
                }
                long numberKey = NUMBER_WORD_KEYS.get(token.fullHash, 0L);
                if (numberKey != 0L) {
                    kind = UnitKind.NUMBER;
                    key = numberKey;
                } else {
                    kind = token.name() ? UnitKind.ENTITY : UnitKind.WORD;
                    key = token.key;
                }
            }
            double weight = switch (kind) {
                case NUMBER -> config.numberWeight();
                case ENTITY -> config.entityWeight();
                case WORD -> config.wordWeight();
            };
            if (claim.units == 0) {
                claim.strongExamplesBefore = strongExamples.size();
                claim.wordExamplesBefore = wordExamples.size();
            }
            claim.units++;
            claim.weight += weight;
            // a capitalised courtesy is still one (German nouns: "Vielen Dank für Ihre Anfrage")
            claim.courtesy &= kind != UnitKind.NUMBER && COURTESY.contains(token.fullHash);
            if (grounding.keys.contains(key)) {
                claim.supported += weight;
                continue;
            }
            // A date written with the month's number ("2024-03-15", "03/15/2024", "15.03.2024") where the grounding
            // names the month ("March 15, 2024").
            if (kind == UnitKind.NUMBER && token.number && grounding.months != 0
                    && grounding.datePart(answer, token.start, token.end, answerEnd)) {
                claim.supported += weight;
                continue;
            }
            // A grounded number written otherwise or rounded ("3.5" for 3.50, "12%" for 12.34%) is the same number.
            if (kind == UnitKind.NUMBER && token.number && token.numeric && !token.year
                    && grounding.rounds(token.value, token.decimals)) {
                claim.supported += weight;
                continue;
            }
            // A number computed from two grounded ones (a sum, a difference, a ratio, a percentage) is supported.
            if (kind == UnitKind.NUMBER && token.number && token.numeric && derivedChecks++ < MAX_DERIVED_CHECKS
                    && grounding.derives(token.value, token.decimals, token.year)) {
                claim.supported += weight;
                claim.derived++;
                continue;
            }
            claim.unsupportedUnits++;
            if (kind == UnitKind.WORD) {
                if (wordExamples.size() < MAX_EXAMPLES) {
                    wordExamples.add(answer.substring(token.start, token.end));
                    wordAt.add(new UnitPosition("word", token.start, token.end - token.start));
                }
                continue;
            }
            claim.unsupportedEntities++;
            if (strongExamples.size() < MAX_EXAMPLES) {
                strongExamples.add(answer.substring(token.start, token.end));
                strongAt.add(new UnitPosition(kind == UnitKind.NUMBER ? "number" : "name", token.start,
                        token.end - token.start));
            }
            if (kind == UnitKind.NUMBER && (token.year ? grounding.hasYear : grounding.hasOtherNumber)) {
                claim.contradicted++;
            }
        }
        totals.close(claim, config, strongExamples, strongAt, wordExamples, wordAt);
        int units = totals.units;
        int claims = totals.claims;
        int unsupportedClaims = totals.unsupportedClaims;
        if (units < Math.max(1, config.minAnswerUnits())) {
            return Verdict.skipped(Outcome.TOO_FEW_UNITS);
        }
        double support = totals.weight == 0 ? 1.0 : totals.supported / totals.weight;
        for (int i = 0; strongExamples.size() < MAX_EXAMPLES && i < wordExamples.size(); i++) {
            strongExamples.add(wordExamples.get(i));
            strongAt.add(wordAt.get(i));
        }
        // hallucination: unsupported claims dominate (or the words as a whole are mostly unsupported);
        // low_faithfulness: support is partial, some claim or a share of the words unsupported.
        boolean hallucination = support < config.hallucinationThreshold()
                || (claims > 0 && unsupportedClaims >= config.hallucinationClaimShare() * claims);
        boolean low = support < config.lowFaithfulnessThreshold() || unsupportedClaims > 0;
        if ((hallucination || low) && inAnotherLanguage(answer, contextDocs)) {
            // Its words were looked up in another language: unsupported says nothing. Checked only now, on the few
            // answers about to be flagged, so that a faithful answer keeps its verdict and the check costs nothing.
            return Verdict.skipped(Outcome.OTHER_LANGUAGE);
        }
        return new Verdict(Outcome.JUDGED, support, claims, units, totals.unsupported, totals.unsupportedEntities,
                totals.contradicted, unsupportedClaims, totals.derived, totals.courtesy, List.copyOf(strongExamples),
                List.copyOf(strongAt), hallucination, low, truncated);
    }

    /** The answer's totals over the sentences judged so far. */
    private static final class Totals {
        double weight;
        double supported;
        int units;
        int unsupported;
        int unsupportedEntities;
        int contradicted;
        int derived;
        int claims;
        int unsupportedClaims;
        int courtesy;

        /**
         * Ends the current sentence: a courtesy's units and examples are dropped, any other sentence with units
         * counts as a claim. Resets {@code claim}.
         */
        void close(Claim claim, FaithfulnessConfig config, List<String> strongExamples, List<UnitPosition> strongAt,
                List<String> wordExamples, List<UnitPosition> wordAt) {
            if (claim.units > 0) {
                if (claim.courtesy) {
                    courtesy++;
                    strongExamples.subList(claim.strongExamplesBefore, strongExamples.size()).clear();
                    strongAt.subList(claim.strongExamplesBefore, strongAt.size()).clear();
                    wordExamples.subList(claim.wordExamplesBefore, wordExamples.size()).clear();
                    wordAt.subList(claim.wordExamplesBefore, wordAt.size()).clear();
                } else {
                    claims++;
                    unsupportedClaims += claim.unsupported(config) ? 1 : 0;
                    weight += claim.weight;
                    supported += claim.supported;
                    units += claim.units;
                    unsupported += claim.unsupportedUnits;
                    unsupportedEntities += claim.unsupportedEntities;
                    contradicted += claim.contradicted;
                    derived += claim.derived;
                }
            }
            claim.reset();
        }
    }

    /** The units of one claim (sentence) so far. */
    private static final class Claim {
        double weight;
        double supported;
        int units;
        int unsupportedUnits;
        int unsupportedEntities;
        int contradicted;
        int derived;
        /** Every unit so far a courtesy word (true for a sentence without units, which is never counted). */
        boolean courtesy = true;
        int strongExamplesBefore;
        int wordExamplesBefore;

        /**
         * Unsupported: under the hallucination support threshold, or holding enough unsupported names/numbers, or a
         * contradicted number. A claim without content units is neither.
         */
        boolean unsupported(FaithfulnessConfig config) {
            return weight > 0 && (supported / weight < config.hallucinationThreshold()
                    || unsupportedEntities >= config.hallucinationMinUnsupportedEntities()
                    || contradicted >= config.hallucinationMinContradictions());
        }

        void reset() {
            weight = 0;
            supported = 0;
            units = 0;
            unsupportedUnits = 0;
            unsupportedEntities = 0;
            contradicted = 0;
            derived = 0;
            courtesy = true;
        }
    }

    private enum UnitKind {
        NUMBER, ENTITY, WORD
    }

    /** The keys of the grounding and the question, and which kinds of number the grounding states. */
    private static final class Grounding {
        LongTable keys;
        boolean hasYear;
        boolean hasOtherNumber;
        boolean truncated;
        /** The months the grounding names ("March", "Sept", "März"), as bits 1 to 12. */
        int months;

        /**
         * Whether the number at {@code [start, end)} of the answer is part of a numeric date whose month the
         * grounding names and whose other parts it holds: the month of {@code yyyy-mm-dd} or {@code mm/dd/yyyy}
         * (a number of 1 to 12 joined by '-' or '/' to another number), or a whole {@code dd.mm.yyyy}, which reads
         * as one token.
         */
        boolean datePart(String text, int start, int end, int limit) {
            // Within the token only: a search past its end would make the answer's scan quadratic.
            int dot = indexOf(text, '.', start, end);
            if (dot > start) {
                int second = indexOf(text, '.', dot + 1, end);
                if (second < 0 || dot - start > 2 || second - dot - 1 > 2 || second - dot - 1 < 1
                        || end - second - 1 != 4 && end - second - 1 != 2) {
                    return false;
                }
                int day = digits(text, start, dot);
                int month = digits(text, dot + 1, second);
                String year = text.substring(second + 1, end);
                return day >= 1 && month >= 1 && month <= 12 && (months & (1 << month)) != 0
                        && holds(Integer.toString(day)) && (year.length() == 2 || holds(year));
            }
            if (end - start > 2) {
                return false;
            }
            int month = digits(text, start, end);
            boolean joined = start >= 2 && (text.charAt(start - 1) == '-' || text.charAt(start - 1) == '/')
                    && Character.isDigit(text.charAt(start - 2))
                    || end + 1 < limit && (text.charAt(end) == '-' || text.charAt(end) == '/')
                    && Character.isDigit(text.charAt(end + 1));
            return joined && month >= 1 && month <= 12 && (months & (1 << month)) != 0;
        }

        private static int indexOf(String text, char c, int from, int to) {
            for (int i = from; i < to; i++) {
                if (text.charAt(i) == c) {
                    return i;
                }
            }
            return -1;
        }

        /** The value of {@code text[from, to)} when it is one or two digits and nothing else, else -1. */
        private static int digits(String text, int from, int to) {
            if (to - from < 1 || to - from > 2) {
                return -1;
            }
            int value = 0;
            for (int i = from; i < to; i++) {
                char c = text.charAt(i);
                if (c < '0' || c > '9') {
                    return -1;
                }
                value = value * 10 + (c - '0');
            }
            return value;
        }

        private boolean holds(String digits) {
            return keys.contains(numberHash(digits, 0, digits.length()));
        }

        /** The first MAX_OPERANDS distinct numbers of the grounding and the question (years and all). */
        final double[] numbers = new double[MAX_OPERANDS];
        int numberCount;

        void addNumber(double value) {
            for (int i = 0; i < numberCount; i++) {
                if (numbers[i] == value) {
                    return;
                }
            }
            if (numberCount < numbers.length) {
                numbers[numberCount++] = value;
            }
        }

        /**
         * Whether {@code value}, written with {@code decimals} decimals, is a sum, difference, product, ratio,
         * percentage or percentage change of two grounded numbers, up to the rounding its writing implies (at
         * least 0.5%; a one-digit figure must be within 0.05 of it, so that "2" is not any ratio near two), or twice
         * one of them. A year must be exactly a grounded number plus or minus another (a year and a duration). At
         * most MAX_OPERANDS² pairs: bounded whatever the grounding.
         */
        boolean derives(double value, int decimals, boolean year) {
            double tolerance = year ? 0 : tolerance(value, decimals);
            for (int i = 0; i < numberCount; i++) {
                double a = numbers[i];
                if (!year && close(a + a, value, tolerance)) {
                    return true; // doubling: "for two people", "twice the recipe"
                }
                for (int j = 0; j < numberCount; j++) {
                    if (i == j) {
                        continue;
                    }
                    double b = numbers[j];
                    if (close(a + b, value, tolerance) || close(a - b, value, tolerance)) {
                        return true;
                    }
                    // A year is only ever a year plus or minus a duration.
                    if (year) {
                        continue;
                    }
                    if (close(a * b, value, tolerance)) {
                        return true;
                    }
                    if (b != 0 && (close(a / b, value, tolerance) || close(100 * a / b, value, tolerance)
                            || close(100 * (a - b) / b, value, tolerance))) {
                        return true;
                    }
                    if (a != 0 && close(100 * (a - b) / a, value, tolerance)) {
                        return true;
                    }
                }
            }
            return false;
        }

        /**
         * Whether {@code value}, written with {@code decimals} decimals, is one of the grounded numbers up to the same
         * rounding as {@link #derives}: trailing zeros dropped ("1,200" for 1,200.00) or fewer decimals kept ("12.3"
         * for 12.34). At most MAX_OPERANDS comparisons.
         */
        boolean rounds(double value, int decimals) {
            double tolerance = tolerance(value, decimals);
            for (int i = 0; i < numberCount; i++) {
                if (close(numbers[i], value, tolerance)) {
                    return true;
                }
            }
            return false;
        }

        /**
         * How far a number may be from what it was computed from: half its last written digit (at least 0.5%; a
         * one-digit figure within 0.05 of it, so that "2" is not any ratio near two).
         */
        private static double tolerance(double value, int decimals) {
            double unit = Math.pow(10, -decimals);
            return Math.max(Math.abs(value) >= 10 ? 0.5 * unit : 0.05 * unit, 0.005 * Math.abs(value));
        }

        private static boolean close(double computed, double value, double tolerance) {
            return Math.abs(computed - value) <= tolerance;
        }
    }

    private Grounding index(String question, List<String> docs) {
        int budget = Math.max(0, config.maxContextChars());
        int chars = question.length();
        for (String doc : docs) {
            chars += doc == null ? 0 : doc.length();
        }
        Grounding grounding = new Grounding();
        // About one token per six characters of English; the table grows if that guess is short.
        grounding.keys = new LongTable(Math.min(chars, budget) / 3 + 16);
        grounding.truncated = chars > budget;
        Token token = new Token();
        int left = budget;
        for (String doc : docs) {
            if (doc == null || left <= 0) {
                continue;
            }
            int end = Math.min(doc.length(), left);
            left -= end;
            int at = 0;
            while ((at = token.next(doc, at, end)) >= 0) {
                addKey(grounding, token);
                if (token.number) {
                    if (token.numeric) {
                        grounding.addNumber(token.value);
                    }
                    grounding.hasYear |= token.year;
                    grounding.hasOtherNumber |= !token.year;
                } else if (NUMBER_WORD_KEYS.contains(token.fullHash)) {
                    grounding.hasOtherNumber = true;
                    addNumberWord(grounding, token);
                } else {
                    grounding.months |= (int) MONTHS.get(token.fullHash, 0L);
                }
            }
        }
        // The question is read in full within what is left of the budget, and its numbers set no "kind" flag:
        // they may be the very premise the answer is asked to correct.
        int end = Math.min(question.length(), Math.max(left, 0));
        int at = 0;
        while ((at = token.next(question, at, end)) >= 0) {
            addKey(grounding, token);
            if (token.number && token.numeric) {
                grounding.addNumber(token.value);
            } else if (!token.number && NUMBER_WORD_KEYS.contains(token.fullHash)) {
                addNumberWord(grounding, token);
            }
        }
        return grounding;
    }

    private static void addNumberWord(Grounding grounding, Token token) {
        long value = NUMBER_WORD_VALUES.get(token.fullHash, -1L);
        if (value > 0) {
            grounding.addNumber(value);
        }
    }

    private static void addKey(Grounding grounding, Token token) {
        grounding.keys.put(token.key, 0);
        if (!token.number) {
            long numberKey = NUMBER_WORD_KEYS.get(token.fullHash, 0L);
            if (numberKey != 0L) {
                grounding.keys.put(numberKey, 0);
            }
        }
    }

    private static final String[] MAGNITUDES = {"k", "thousand", "m", "mn", "million", "millions", "b", "bn",
        "billion", "billions", "trillion"};
    private static final int[] MAGNITUDE_POWERS = {3, 3, 6, 6, 6, 6, 9, 9, 9, 9, 12};

    /** One token of a text: a reusable cursor, so that scanning allocates nothing per token. */
    private static final class Token {
        int start;
        int end;
        boolean number;
        boolean year;
        /** A plain number (digits, separators, an optional decimal part, ordinal or plural suffix): its value. */
        boolean numeric;
        double value;
        int decimals;
        boolean initial;
        boolean sentenceStart;
        int uppercase;
        long key;
        long fullHash;
        private final char[] buffer = new char[64];

        int length() {
            return end - start;
        }

        /** A name: capitalised where a sentence does not force it, or an acronym anywhere. */
        boolean name() {
            return !number && (uppercase >= 2 || (uppercase == 1 && !initial));
        }

        /** Reads the token at or after {@code from}; returns where to go on, or -1 when none is left. */
        int next(String text, int from, int limit) {
            int i = from;
            while (i < limit && !Character.isLetterOrDigit(text.charAt(i))) {
                i++;
            }
            if (i >= limit) {
                return -1;
            }
            start = i;
            lookBack(text, i);
            if (Character.isDigit(text.charAt(i))) {
                readNumber(text, i, limit);
            } else {
                readWord(text, i, limit);
            }
            return end;
        }

        private void readNumber(String text, int i, int limit) {
            number = true;
            int length = 0;
            long value = 0;
            boolean fraction = false;
            double exact = 0;
            int digitsAfterPoint = 0;
            int significant = 0;
            boolean separated = false;
            while (i < limit) {
                char c = text.charAt(i);
                if (c >= '0' && c <= '9') {
                    if (length < buffer.length) {
                        buffer[length++] = c;
                    }
                    if (!fraction && value < 1_000_000_000L) {
                        value = value * 10 + (c - '0');
                    }
                    if (significant < 15) {
                        exact = exact * 10 + (c - '0');
                        significant++;
                        digitsAfterPoint += fraction ? 1 : 0;
                    }
                    i++;
                } else if ((c == ',' || c == '.') && i + 1 < limit && Character.isDigit(text.charAt(i + 1))) {
                    // Thousands separators vanish, so that 1,000 meets 1000; a decimal point stays.
                    if (c == '.' && length < buffer.length) {
                        buffer[length++] = '.';
                        fraction = true;
                    }
                    separated |= c == ',';
                    i++;
                } else {
                    break;
                }
            }
            int digitsEnd = length;
            int suffixStart = i;
            while (i < limit && Character.isLetter(text.charAt(i))) {
                i++;
            }
            end = i;
            // 5th, 1990s, 2nd meet 5, 1990, 2; any other suffix (30A, 4K) is part of the number.
            int suffixLength = i - suffixStart;
            boolean ordinalOrPlural = suffixLength == 0
                    || (suffixLength == 1 && (text.charAt(suffixStart) | 0x20) == 's')
                    || (suffixLength == 2 && (text.regionMatches(true, suffixStart, "st", 0, 2)
                            || text.regionMatches(true, suffixStart, "nd", 0, 2)
                            || text.regionMatches(true, suffixStart, "rd", 0, 2)
                            || text.regionMatches(true, suffixStart, "th", 0, 2)));
            // A magnitude, as a suffix ("48k", "$1.2M", "2.5bn") or the next word ("1.2 million"), scales the
            // number: it is the amount it names, keyed by its plain digits, so that it meets "1,200,000".
            int magnitude = suffixLength == 0 ? 0 : magnitude(text, suffixStart, suffixLength);
            if (suffixLength == 0 && i + 1 < limit && text.charAt(i) == ' ') {
                int wordEnd = i + 1;
                while (wordEnd < limit && Character.isLetter(text.charAt(wordEnd))) {
                    wordEnd++;
                }
                // As a word of its own, not a single letter: "2 m" is two metres, "2 b" an option.
                magnitude = wordEnd - i - 1 > 1 ? magnitude(text, i + 1, wordEnd - i - 1) : 0;
                if (magnitude > 0) {
                    end = wordEnd;
                }
            }
            if (magnitude > 0 && significant < 15) {
                year = false;
                numeric = true;
                decimals = digitsAfterPoint - magnitude;
                this.value = exact / Math.pow(10, digitsAfterPoint) * Math.pow(10, magnitude);
                String digits = java.math.BigDecimal.valueOf(this.value).stripTrailingZeros().toPlainString();
                key = numberHash(digits, 0, digits.length());
                fullHash = key;
                uppercase = 0;
                return;
            }
            if (!ordinalOrPlural) {
                for (int j = suffixStart; j < i && length < buffer.length; j++) {
                    buffer[length++] = Character.toLowerCase(text.charAt(j));
                }
            }
            // "1,200" is an amount: nobody writes a year with a thousands separator.
            year = length == 4 && digitsEnd == 4 && !fraction && !separated && value >= 1000 && value <= 2100;
            numeric = ordinalOrPlural && significant < 15;
            decimals = digitsAfterPoint;
            this.value = exact / Math.pow(10, digitsAfterPoint);
            key = numberHash(buffer, length);
            fullHash = key;
            uppercase = 0;
        }

        /**
         * The power of ten that the word or suffix {@code text[from, from + length)} names (k, thousand: 3; m, mn,
         * million: 6; b, bn, billion: 9; trillion: 12), or 0.
         */
        private static int magnitude(String text, int from, int length) {
            for (int m = 0; m < MAGNITUDES.length; m++) {
                if (MAGNITUDES[m].length() == length && text.regionMatches(true, from, MAGNITUDES[m], 0, length)) {
                    return MAGNITUDE_POWERS[m];
                }
            }
            return 0;
        }

        private void readWord(String text, int i, int limit) {
            number = false;
            year = false;
            numeric = false;
            uppercase = 0;
            int length = 0;
            long full = FNV_OFFSET;
            while (i < limit) {
                char c = text.charAt(i);
                if (c < 128 && c != '\'') {
                    // ASCII, what most answers are: the same tests as below without Character's tables
                    if (c >= 'A' && c <= 'Z') {
                        uppercase++;
                        c = (char) (c | 0x20);
                    } else if (!(c >= 'a' && c <= 'z' || c >= '0' && c <= '9')) {
                        break;
                    }
                } else if (Character.isLetterOrDigit(c)) {
                    if (Character.isUpperCase(c)) {
                        uppercase++;
                    }
                    c = Character.toLowerCase(c);
                } else if ((c == '\'' || c == '’') && i + 1 < limit && Character.isLetter(text.charAt(i + 1))) {
                    c = '\'';
                } else {
                    break;
                }
                full = (full ^ c) * FNV_PRIME;
                if (length < buffer.length) {
                    buffer[length++] = c;
                }
                i++;
            }
            end = i;
            fullHash = full;
            // Possessive and plural s go; then the first STEM letters are the key.
            if (length > 2 && buffer[length - 2] == '\'' && buffer[length - 1] == 's') {
                length -= 2;
            }
            if (length > 3 && buffer[length - 1] == 's' && buffer[length - 2] != 's') {
                length--;
            }
            key = hash(buffer, Math.min(length, STEM));
        }

        /** Whether the token opens a sentence (or follows a colon, a line break or an opening quote). */
        private void lookBack(String text, int at) {
            initial = true;
            sentenceStart = true;
            for (int j = at - 1, seen = 0; j >= 0 && seen < 16; j--, seen++) {
                char c = text.charAt(j);
                if (c == '\n' || c == '.' || c == '!' || c == '?') {
                    return;
                }
                if (c == ':' || c == ';') {
                    sentenceStart = false;
                    return;
                }
                if (!(Character.isWhitespace(c) || c == '"' || c == '“' || c == '(' || c == '\'' || c == '‘'
                        || c == '*' || c == '#' || c == '-' || c == '•')) {
                    initial = false;
                    sentenceStart = false;
                    return;
                }
            }
            if (at > 16) {
                initial = false;
                sentenceStart = false;
            }
        }
    }

    private static final long FNV_OFFSET = 0xcbf29ce484222325L;
    private static final long FNV_PRIME = 0x100000001b3L;

    private static long hash(CharSequence text, int from, int to) {
        long h = FNV_OFFSET;
        for (int i = from; i < to; i++) {
            h = (h ^ text.charAt(i)) * FNV_PRIME;
        }
        return h;
    }

    private static long hash(char[] chars, int length) {
        long h = FNV_OFFSET;
        for (int i = 0; i < length; i++) {
            h = (h ^ chars[i]) * FNV_PRIME;
        }
        return h;
    }

    private static long numberHash(CharSequence text, int from, int to) {
        // A leading '#' keeps number keys apart from word keys.
        long h = (FNV_OFFSET ^ '#') * FNV_PRIME;
        for (int i = from; i < to; i++) {
            h = (h ^ text.charAt(i)) * FNV_PRIME;
        }
        return h;
    }

    private static long numberHash(char[] chars, int length) {
        long h = (FNV_OFFSET ^ '#') * FNV_PRIME;
        for (int i = 0; i < length; i++) {
            h = (h ^ chars[i]) * FNV_PRIME;
        }
        return h;
    }

    /** An open-addressing table of long keys (0 is never a key: FNV hashes of real text do not hit it). */
    static final class LongTable {
        private long[] keys;
        private long[] values;
        private int size;

        LongTable(int expected) {
            int capacity = Integer.highestOneBit(Math.max(16, expected * 2) - 1) << 1;
            keys = new long[capacity];
            values = new long[capacity];
        }

        void put(long key, long value) {
            if (key == 0) {
                key = 1;
            }
            if ((size + 1) * 2 > keys.length) {
                grow();
            }
            int mask = keys.length - 1;
            int i = spread(key) & mask;
            while (keys[i] != 0) {
                if (keys[i] == key) {
                    values[i] = value;
                    return;
                }
                i = (i + 1) & mask;
            }
            keys[i] = key;
            values[i] = value;
            size++;
        }

        boolean contains(long key) {
            return slot(key) >= 0;
        }

        long get(long key, long absent) {
            int slot = slot(key);
            return slot < 0 ? absent : values[slot];
        }

        private int slot(long key) {
            if (key == 0) {
                key = 1;
            }
            int mask = keys.length - 1;
            int i = spread(key) & mask;
            while (keys[i] != 0) {
                if (keys[i] == key) {
                    return i;
                }
                i = (i + 1) & mask;
            }
            return -1;
        }

        private void grow() {
            long[] oldKeys = keys;
            long[] oldValues = values;
            keys = new long[oldKeys.length * 2];
            values = new long[oldKeys.length * 2];
            size = 0;
            for (int i = 0; i < oldKeys.length; i++) {
                if (oldKeys[i] != 0) {
                    put(oldKeys[i], oldValues[i]);
                }
            }
        }

        private static int spread(long key) {
            return (int) (key ^ (key >>> 32)) * 0x9E3779B1;
        }
    }
}
