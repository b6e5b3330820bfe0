package io.faultline.content;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Base64;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Layered heuristics for prompt injection (text that tries to override the application's instructions) and jailbreak
 * attempts (text that tries to lift the model's safety rules), in English and German with the commonest "forget
 * everything" verbs of a few more languages. Pure and thread-safe: one instance serves every call.
 *
 * <p>Cost is bounded: the text is capped, every pattern is guarded by plain substrings (an {@code indexOf} pass) so
 * that benign text rarely reaches a regex, the regexes use bounded gaps only, and at most a few base64 blobs are
 * decoded, one level deep.
 */
public final class InjectionDetector {

    /** The failure type a signal counts towards. */
    public enum Kind {
        INJECTION, JAILBREAK
    }

    /**
     * The outcome of one scan.
     *
     * @param injectionScore   the rules' and the learned classifier's injection scores combined by noisy-OR, 0 to 1
     * @param jailbreakScore   the same for jailbreak
     * @param injectionSignals names of the injection signals matched, in rule order
     * @param jailbreakSignals names of the jailbreak signals matched, in rule order
     * @param truncated        true when the middle of a long text was not scanned
     * @param learned          what the learned classifier said ({@link Learned#NONE} when it is off)
     */
    public record Verdict(double injectionScore, double jailbreakScore, List<String> injectionSignals,
            List<String> jailbreakSignals, boolean truncated, Learned learned) {

        public static final Verdict NONE = new Verdict(0, 0, List.of(), List.of(), false, Learned.NONE);

        public double score(Kind kind) {
            return kind == Kind.INJECTION ? injectionScore : jailbreakScore;
        }

        public List<String> signals(Kind kind) {
            return kind == Kind.INJECTION ? injectionSignals : jailbreakSignals;
        }

        /** Every signal matched, injection signals first. */
        public List<String> signals() {
            List<String> all = new ArrayList<>(injectionSignals);
            all.addAll(jailbreakSignals);
            return all;
        }

        /** The rules' own score for one kind (before the learned classifier's is combined in). */
        public double ruleScore(Kind kind) {
            double learnedScore = learned.score(kind);
            double combined = score(kind);
            return learnedScore >= 1 ? 0 : Math.max(0, 1 - (1 - combined) / (1 - learnedScore));
        }
    }

    /**
     * The learned classifier's part of a verdict: its probability per kind, the head that read the text
     * ({@code direct} for user turns, {@code indirect} for tool results and documents), and, when the combined score
     * reached its threshold, the features that pushed it most, as {@code family:bucket} ids (never text).
     */
    public record Learned(double injection, double jailbreak, String injectionHead, List<String> injectionFeatures,
            List<String> jailbreakFeatures, String skippedScript) {

        public static final Learned NONE = new Learned(0, 0, "none", List.of(), List.of(), null);

        /**
         * The classifier was not asked: most of the text's letters are in a script it has seen no benign text in
         * ({@link InjectionConfig#modelScripts()}), where its verdict tells nothing.
         */
        static Learned skipped(Character.UnicodeScript script) {
            return new Learned(0, 0, "none", List.of(), List.of(), script.name());
        }

        public double score(Kind kind) {
            return kind == Kind.INJECTION ? injection : jailbreak;
        }

        public List<String> features(Kind kind) {
            return kind == Kind.INJECTION ? injectionFeatures : jailbreakFeatures;
        }
    }

    /**
     * One named signal: matched when any of its patterns finds a match. {@code anchors} are substrings at least one
     * of which every match contains (in the lower-cased text); they let benign text skip the regexes. A pattern may
     * have anchors of its own ({@code patternAnchors[i]}, else null): substrings every match of that pattern
     * contains, rarer than the signal's (the second word a pattern needs, a quote, a colon), so that a common verb
     * or "new" inside "newsletter" does not send every pattern over the whole text. {@code InjectionDetectorTest}
     * checks on the labelled sets that every match of such a pattern holds one of them.
     */
    record Signal(String name, Kind kind, double weight, boolean caseSensitive, String[] anchors,
            Pattern[] patterns, String[][] patternAnchors) {

        Signal(String name, Kind kind, double weight, boolean caseSensitive, String[] anchors, Pattern[] patterns) {
            this(name, kind, weight, caseSensitive, anchors, patterns, new String[patterns.length][]);
        }

        /** This signal with anchors for each of its patterns (null: the signal's own). */
        Signal withPatternAnchors(String[]... perPattern) {
            if (perPattern.length != patterns.length) {
                throw new IllegalArgumentException(name + ": " + perPattern.length + " anchor sets for "
                        + patterns.length + " patterns");
            }
            return new Signal(name, kind, weight, caseSensitive, anchors, patterns, perPattern);
        }

        boolean matches(String text, String lower, Work work) {
            String subject = caseSensitive ? text : lower;
            // A case-sensitive signal's anchors are case-sensitive too.
            int[] shared = windows(subject, anchors);
            if (shared == null) {
                return false;
            }
            long sharedChars = chars(shared);
            for (int p = 0; p < patterns.length; p++) {
                int[] windows = shared;
                long chars = sharedChars;
                if (patternAnchors[p] != null) {
                    int[] own = windows(subject, patternAnchors[p]);
                    if (own == null) {
                        continue; // none of the pattern's own anchors: it cannot match
                    }
                    // Both are valid (a match holds one of each): the smaller stretch is read, so that a text full
                    // of quotes or colons never costs more of the budget than the signal's anchors did.
                    long ownChars = chars(own);
                    if (ownChars < chars) {
                        windows = own;
                        chars = ownChars;
                    }
                }
                if (!work.take(chars)) {
                    return false;
                }
                Matcher matcher = patterns[p].matcher(subject).useTransparentBounds(true)
                        .useAnchoringBounds(false);
                for (int i = 0; i < windows.length && windows[i] >= 0; i += 2) {
                    if (matcher.region(windows[i], windows[i + 1]).find()) {
                        return true;
                    }
                }
            }
            return false;
        }

        private static long chars(int[] windows) {
            long chars = 0;
            for (int i = 0; i < windows.length && windows[i] >= 0; i += 2) {
                chars += windows[i + 1] - windows[i];
            }
            return chars;
        }

        /**
         * The stretches of text around the anchors' occurrences, merged, as start/end pairs (the unused tail is -1),
         * or null when no anchor occurs: the regexes only run there, so their cost follows the anchors, not the text.
         */
        private static int[] windows(String subject, String[] anchors) {
            int[] out = null;
            int count = 0;
            for (String anchor : anchors) {
                int from = 0;
                int at;
                while ((at = subject.indexOf(anchor, from)) >= 0) {
                    int start = Math.max(0, at - WINDOW_BEFORE);
                    int end = Math.min(subject.length(), at + anchor.length() + WINDOW_AFTER);
                    if (out == null) {
                        out = new int[8];
                        java.util.Arrays.fill(out, -1);
                    }
                    count = addWindow(out, count, start, end);
                    if (count < 0) {
                        // too many separate stretches: the whole text is cheaper to scan once
                        return new int[] {0, subject.length()};
                    }
                    from = end;
                }
            }
            return out;
        }

        /** Adds [start, end) to the sorted, disjoint windows, merging overlaps; -1 when the array is full. */
        private static int addWindow(int[] windows, int count, int start, int end) {
            for (int i = 0; i < count; i += 2) {
                if (start <= windows[i + 1] && end >= windows[i]) {
                    windows[i] = Math.min(windows[i], start);
                    windows[i + 1] = Math.max(windows[i + 1], end);
                    return count;
                }
            }
            if (count == windows.length) {
                return -1;
            }
            windows[count] = start;
            windows[count + 1] = end;
            return count + 2;
        }
    }

    // A match reaches at most this far before and after the anchor it contains (the widest gaps are bounded below).
    private static final int WINDOW_BEFORE = 200;
    private static final int WINDOW_AFTER = 320;

    // Gaps of a few words within one sentence: bounded, so that no pattern can backtrack far.
    private static final String W = "[^\\s.!?;]+";
    private static final String G2 = "(?:\\s+" + W + "){0,2}?\\s+";
    private static final String G3 = "(?:\\s+" + W + "){0,3}?\\s+";
    private static final String G4 = "(?:\\s+" + W + "){0,4}?\\s+";
    private static final String G6 = "(?:\\s+" + W + "){0,6}?\\s+";

    private static final String EN_DROP = "\\b(?:ignore|ignoring|disregard|disregarding|forget|forgetting|drop|abandon"
            + "|discard|overlook|override|bypass|neglect)";
    private static final String EN_PRIOR = "(?:all|any|every|your|my|previous|prior|preceding|earlier|former|above"
            + "|foregoing|original|initial|system|old)";
    private static final String EN_RULES = "(?:instructions?|prompts?|orders|rules|directions|directives|commands"
            + "|guidelines|tasks|assignments|context|information|documents|articles|messages|programming|inputs?)\\b";
    private static final String DE_DROP = "\\b(?:vergiss|vergesst|vergessen sie|ignoriere|ignoriert|ignorieren sie"
            + "|missachte|missachten sie|verwirf|verwerfen sie|übergehe|übergehen sie)";
    private static final String DE_PRIOR = "(?:alle|alles|sämtliche|deine|deinen|ihre|ihren|vorherigen|bisherigen"
            + "|obigen|vorangehenden|vorangegangenen|früheren|ursprünglichen|vorigen)";
    private static final String DE_RULES = "(?:anweisungen|instruktionen|befehle|aufträge|aufgaben|angaben"
            + "|informationen|regeln|vorgaben|dokumente|artikel|kontext|prompts?|ausführungen|nachrichten)\\b";
    private static final String PRIOR_ANY = "(?:previous|prior|preceding|earlier|foregoing|above|vorherigen"
            + "|bisherigen|obigen|vorangehenden|vorangegangenen|früheren|vorigen)";
    private static final String RULES_ANY = "(?:instructions?|information|tasks|assignments|orders|prompts?|commands"
            + "|context|directions|anweisungen|informationen|angaben|aufgaben|aufträge|befehle|instruktionen"
            + "|ausführungen)\\b";
    // "ignore your ethical guidelines" lifts safety rules, not the application's: that is the jailbreak signal's
    private static final String SAFETY_NOT_APP = "(?!(?:\\s+\\S+)?\\s+(?:safety|ethical|ethics|moral|content)\\b)";
    private static final String CONTEXT_DROP = "\\b(?:ignore|ignoring|disregard|disregarding|forget|vergiss"
            + "|ignoriere|ignorieren sie|missachte|missachten sie)";
    private static final String CONTEXT = "(?:documents?|articles?|artikels?|context|sources|dokumente|kontext"
            + "|quellen)\\b";

    private static final String[] DROP_ANCHORS = {"ignor", "disregard", "forget", "drop", "abandon", "discard",
        "overlook", "override", "bypass", "neglect", "vergiss", "vergesst", "vergessen", "missacht", "verwirf",
        "verwerfen", "überge"};
    private static final String[] PRIOR_ANCHORS = {"previous", "prior", "preceding", "earlier", "foregoing", "above",
        "vorherig", "bisherig", "obigen", "vorangeh", "vorangegang", "früher", "vorig"};

    static final List<Signal> SIGNALS = List.of(
            // --- instruction override (OWASP LLM01 direct injection) ---
            signal("override.ignore_previous", Kind.INJECTION, 0.85, DROP_ANCHORS,
                    EN_DROP + "(?:\\s+about)?" + G3 + EN_PRIOR + SAFETY_NOT_APP + G2 + EN_RULES,
                    DE_DROP + "(?:\\s+(?:nun|jetzt|bitte|einfach))*" + G3 + DE_PRIOR + G2 + DE_RULES),
            signal("override.ignore_previous", Kind.INJECTION, 0.85, PRIOR_ANCHORS,
                    // German puts the object first: "die obigen Ausführungen ignorieren"
                    "\\b" + PRIOR_ANY + G2 + DE_RULES + G4
                            + "(?:zu\\s+)?(?:ignorieren|vergessen|missachten|streichen|hinter sich|beiseite)"),
            signal("override.forget_everything", Kind.INJECTION, 0.8,
                    new String[] {"forget", "ignor", "disregard", "vergiss", "vergesst", "vergessen sie"},
                    "\\b(?:forget|ignore|disregard)\\s+(?:about\\s+)?(?:everything|all|anything|the above|above)\\b"
                            + "(?:\\s*(?:[,.!:;]|$)|\\s+(?:and|before|above|prior|previous|else|so far|until now"
                            + "|up to now|earlier|you (?:know|knew|were told|have been told|learned|have learned)"
                            + "|we (?:discussed|talked|said)|i (?:said|told|wrote)|said|written)\\b)",
                    "\\b(?:vergiss|vergesst|vergessen sie|ignoriere|ignorieren sie)\\s+(?:nun\\s+|jetzt\\s+|bitte\\s+)?"
                            + "(?:alles|das obige|obiges)\\b"),
            signal("override.forget_everything", Kind.INJECTION, 0.8,
                    new String[] {"olvid", "oubli", "dimentic", "esquec", "esqueç", "zaboravi", "забуд", "игнор"},
                    // the same ask in a few more languages, since mixed-language prompts are a known evasion
                    "\\b(?:olvid[aeo]\\p{L}*|oubli\\p{L}*|dimentic\\p{L}*|esque[cç]\\p{L}*|zaboravi\\p{L}*)\\s+"
                            + "(?:\\S+\\s+){0,2}?(?:todo|todas?|tout|toutes?|tutt[oei]|tud[oa]|sve|instruc\\p{L}*"
                            + "|instruz\\p{L}*|instrukc\\p{L}*)",
                    "(?:забуд\\p{L}*|игнорир\\p{L}*)\\s+(?:\\S+\\s+){0,2}?(?:вс[её]\\p{L}*|инструкц\\p{L}*)"),
            signal("override.contrary_to_instructions", Kind.INJECTION, 0.7,
                    new String[] {"abweichend", "despite", "contrary", "regardless", "instead of", "entgegen",
                        "unabhängig"},
                    "\\babweichend\\s+(?:zu|von)\\s+(?:den\\s+)?" + PRIOR_ANY,
                    "\\b(?:despite|contrary to|regardless of|instead of following)\\s+(?:what\\s+you(?:'ve|\\s+have|"
                            + "\\s+were)?\\s+(?:been\\s+)?(?:told|instructed)|(?:your|the|any|all)\\s+(?:\\S+\\s+)?"
                            + "(?:instructions|rules|guidelines|programming))",
                    "\\b(?:entgegen|unabhängig von)\\s+(?:deinen|ihren|den|allen)\\s+(?:\\S+\\s+)?"
                            + "(?:anweisungen|instruktionen|regeln|vorgaben)"),
            signal("override.dismiss_prior", Kind.INJECTION, 0.7, PRIOR_ANCHORS,
                    "\\b" + PRIOR_ANY + "\\s+" + RULES_ANY + "[^.!?]{0,60}?\\b(?:are|is|sind|ist|were|waren)\\s+"
                            + "(?:now\\s+|jetzt\\s+|nun\\s+)?(?:irrelevant|void|obsolete|cancel+ed|no longer\\b"
                            + "|not (?:so |that |very |entirely )?(?:great|good|correct|valid|relevant|important)\\b"
                            + "|nicht (?:mehr |ganz |so )?(?:großartig|gut|richtig|gültig|relevant|wichtig)\\b"
                            + "|ungültig|hinfällig|aufgehoben)"),
            signal("override.prior_reference", Kind.INJECTION, 0.35, PRIOR_ANCHORS,
                    "\\b" + PRIOR_ANY + "\\s+(?:\\S+\\s+)?" + RULES_ANY),
            signal("override.new_instructions", Kind.INJECTION, 0.65,
                    new String[] {"new", "neue", "instructions are", "change your", "ändere", "focus", "concentrat",
                        "konzentrier", "folgen", "kommen"},
                    "\\bnew\\s+(?:instructions?|tasks?|rules|assignment|system prompt)\\s*:",
                    "\\b(?:now|nun|jetzt)\\s+(?:follow|folgen|kommen|come)\\s+(?:\\S+\\s+){0,3}?"
                            + "(?:new|further|additional|more|neue|weitere|noch)\\s+(?:\\S+\\s+)?"
                            + "(?:instructions|tasks|anweisungen|aufgaben|instruktionen)",
                    "\\b(?:now\\s+)?(?:focus|concentrate|konzentriere dich|konzentrieren sie sich)\\s+(?:now\\s+|jetzt"
                            + "\\s+|nun\\s+)?(?:on|auf)\\s+(?:your|the|deine|die|ihre)\\s+(?:new|neue|neuen)\\s+(?:task|aufgabe)",
                    "\\byour\\s+(?:new\\s+)?instructions\\s+are\\s+now\\b",
                    "\\b(?:change|update|replace|ändere|ändern sie)\\s+(?:your|deine|ihre)\\s+(?:instructions"
                            + "|anweisungen|rules|regeln|system prompt)\\b",
                    "\\b(?:here\\s+are|these\\s+are)\\s+your\\s+new\\s+(?:instructions|rules)\\b")
                    // "new" also sits in "newsletter", "news" and "renew": each pattern's rarer word instead
                    .withPatternAnchors(new String[] {":"}, new String[] {"follow", "folgen", "kommen", "come"},
                    new String[] {"focus", "concentrate", "konzentriere"}, new String[] {"instructions"},
                    new String[] {"instructions", "anweisungen", "rules", "regeln", "system prompt"},
                    new String[] {"instructions", "rules"}),
            signal("override.new_task", Kind.INJECTION, 0.4,
                    new String[] {"new", "another", "further", "additional", "neue", "weitere", "andere", "noch ein"},
                    "\\b(?:new|another|further|additional|neue[nr]?|weitere[nr]?|noch ein paar|zusätzliche[nr]?)\\s+"
                            + "(?:\\S+\\s+)?(?:tasks?|challenge|assignments?|instructions?|aufgaben?|herausforderung"
                            + "|anweisungen?|instruktion(?:en)?)\\b")
                    .withPatternAnchors(new String[] {"task", "challenge", "assignment", "instruction", "aufgabe",
                        "herausforderung", "anweisung", "instruktion"}),
            signal("override.task_pivot", Kind.INJECTION, 0.45,
                    new String[] {"good", "done", "excellent", "great", "perfect", "fantastic", "enough", "okay",
                        "ok", "gut", "ausgezeichnet", "großartig", "genügt", "erledigt", "fantastisch", "wow"},
                    // praise or a fake "task complete", then a pivot to a new ask: the context-ending trick
                    "\\b(?:very good|well done|good job|great job|excellent(?: performance| work)?|simply great"
                            + "|perfect|fantastic|that(?:'s| is| was)(?: \\S+)? (?:enough|done|ok|okay|great)|okay|ok"
                            + "|sehr gut(?: gemacht)?|gut gemacht|ausgezeichnet(?:e leistung)?|einfach großartig"
                            + "|das genügt|das ist erledigt|das war(?: \\S+){0,2} ok|fantastisch)[.!,\"]+"
                            + "[^\\n]{0,80}?\\b(?:now|nun|jetzt)\\b"),
            signal("override.fake_completion", Kind.INJECTION, 0.3,
                    new String[] {"done", "enough", "erledigt", "genügt", "reicht", "complete"},
                    // claims the application's task is finished, so that what follows reads as the next task
                    "\\b(?:that(?:'s| is| was) (?:done|enough|complete)|task (?:is )?(?:done|complete)"
                            + "|das (?:ist erledigt|genügt|reicht)|aufgabe (?:ist )?erledigt)\\b"),
            signal("override.ignore_context", Kind.INJECTION, 0.6,
                    new String[] {"document", "article", "artikel", "context", "source", "dokument", "kontext",
                        "quellen"},
                    CONTEXT_DROP + G3 + CONTEXT,
                    "(?:\\bnot|n't|\\bdont|\\bnicht)(?:\\s+" + W + "){0,4}?\\s+(?:according to|based on|by|from"
                            + "|using|use|look in|look at|rely on|refer to|consult|auf|in|nach|aus)\\s+(?:the\\s+|den"
                            + "\\s+|die\\s+|any\\s+)?(?:provided\\s+|given\\s+|bereitgestellten\\s+)?" + CONTEXT)
                    // "context" and "document" are the application's own words; the verb is the rarer part
                    .withPatternAnchors(new String[] {"ignor", "disregard", "forget", "vergiss", "missacht"},
                    new String[] {"not", "n't", "dont", "nicht"}),
            signal("override.own_knowledge", Kind.INJECTION, 0.35, new String[] {"own knowledge", "eigenen wissen"},
                    "\\b(?:by|from|with|using|on)\\s+your\\s+own\\s+knowledge\\b",
                    "\\b(?:mit|aus|nach)\\s+(?:deinem|ihrem)\\s+eigenen\\s+wissen\\b"),
            signal("override.negated_task", Kind.INJECTION, 0.6,
                    new String[] {"not", "n't", "dont", "never", "nicht"},
                    // the text cancels the very question it asks: the tell of an instruction hidden in a question
                    "(?:\\bdo not|n'?t|\\bdont|\\bnever)\\s+(?:answer|respond to|reply to)\\s+(?:this|the|my)\\s+"
                            + "(?:question|request|query)\\b",
                    "\\b(?:beantworte|beantworten sie)\\s+(?:diese|die)\\s+frage\\s+nicht\\b")
                    // "not" is everywhere, and "n't" / "nt" inside words: the verb each pattern needs is rarer
                    .withPatternAnchors(new String[] {"answer", "respond", "reply"}, new String[] {"beantworte"}),
            signal("override.forced_output", Kind.INJECTION, 0.45,
                    new String[] {"say", "print", "output", "write", "repeat", "reply", "respond", "answer", "sag",
                        "schreib", "ausgeb", "antwort", "gib", "command you"},
                    "\\b(?:just|only|simply|nur)\\s+(?:say|output|print|write|reply|respond|answer|sage?n?"
                            + "|schreibe?n?|ausgeben|antworte)\\b",
                    "\\b(?:say|print|output|write|reply with|respond with|answer with|sage?|schreibe?|gib)\\s+"
                            + "(?:only\\s+|just\\s+|exactly\\s+|nur\\s+)?[\"'“„«]",
                    "\\b(?:say|print|output|write|schreibe?)\\s*:\\s*\\S",
                    "\\brepeat after me\\b|\\bsprich mir nach\\b|\\bi command you\\b|\\binstead,?\\s+(?:say|print"
                            + "|output|write)\\b")
                    // the verbs are common; the quote, the colon or the phrase each other pattern needs is not
                    .withPatternAnchors(null, new String[] {"\"", "'", "“", "„", "«"}, new String[] {":"},
                    new String[] {"repeat after me", "sprich mir nach", "i command you", "instead"}),
            signal("override.interrupt", Kind.INJECTION, 0.4,
                    new String[] {"stop", "halt", "attention", "achtung"},
                    "(?:^|[.!?\"]\\s*|\\s)(?:stop|stopp|halt|attention|achtung)\\s*[-–:!,]"),
            signal("override.interrupt_command", Kind.INJECTION, 0.6, new String[] {"stop", "halt"},
                    // "stop: write ...": breaks off the current task and issues a new command in the same breath
                    "\\b(?:stop|stopp|halt)\\s*[-–:!,]+\\s*(?:and\\s+|und\\s+)?(?:now\\s+|jetzt\\s+|nun\\s+)?"
                            + "(?:write|say|print|output|ignore|forget|answer|schreib\\p{L}*|sag\\p{L}*"
                            + "|ignorier\\p{L}*|vergiss|gib)\\b"),
            signal("override.known_payload", Kind.INJECTION, 0.5, new String[] {"pwn"},
                    // the canonical goal-hijack payload of the PromptInject work ("haha pwned")
                    "\\bpwn(?:e?d|ing)?\\b"),
            signal("override.shouted_instruction", Kind.INJECTION, 0.5,
                    new String[] {"YOU", "DU", "SIE", "ANSWER", "ANTWORT", "OUTPUT", "SAY", "WRITE", "IGNORE",
                        "FORGET", "MUST", "MUSST", "COMMAND", "SAG", "SCHREIB"},
                    true,
                    // an all-caps command inside ordinary text: an instruction planted in a question or a document
                    // (the keyword look-ahead fails fast on ordinary text; the look-behind is 4 characters at most)
                    "(?=[A-ZÄÖÜ'\\s]{0,80}\\b(?:YOU|DU|SIE|ANSWER|ANTWORTE|OUTPUT|SAY|WRITE|IGNORE|FORGET|MUST|MUSST"
                            + "|COMMAND|SAGE?|SCHREIBE?)\\b)(?<=[a-zäöüß?][\\s\"':,.-]{1,3})(?:[A-ZÄÖÜ']{2,}\\s+){3,}"
                            + "[A-ZÄÖÜ']{2,}\\b"),
            signal("override.addressed_to_model", Kind.INJECTION, 0.45,
                    new String[] {" ai", "llm", "assistant", "language model", "ki "},
                    // instructions planted in documents and tool results often address the model directly
                    "\\b(?:if you are|note to|attention|dear|to the)\\s+(?:an?\\s+|the\\s+)?(?:ai|llm|assistant"
                            + "|language model|ai model|chatbot)\\b(?:\\s+(?:reading|processing|summari[sz]ing))?"),

            // --- system-prompt extraction ---
            signal("extraction.system_prompt", Kind.INJECTION, 0.75,
                    new String[] {"prompt", "instruction", "rules", "guideline", "anweisung", "vorgabe", "regeln",
                        "written", "before the", "above", "steht", "geschrieben"},
                    "\\b(?:show|reveal|print|repeat|display|output|tell|give|list|share|leak|dump|copy|spell"
                            + "|zeig|verrat|wiederhol|nenn|gib|vorzeig)\\p{L}*" + G3
                            + "(?:your|deine|deinen|ihre|ihren)\\s+(?:\\S+\\s+)?(?:system[ -]?prompt|prompt|instructions"
                            + "|anweisungen|instruktionen|vorgaben|guidelines|rules|regeln)\\b",
                    "\\b(?:show|reveal|print|repeat|display|output|tell|give|list|share|leak|dump|copy|spell"
                            + "|zeig|verrat|wiederhol|nenn|gib|vorzeig)\\p{L}*" + G3
                            + "(?:(?:the|all|den|die|alle|sämtliche|sämtlicher)\\s+)?(?:\\S+\\s+)?(?:system[ -]?prompt"
                            + "|prompt[ _-]?te?xte?s?|initial prompt|original prompt|hidden prompt|full prompt)\\b",
                    "\\bwhat\\s+(?:are|were|is|was)\\s+(?:your|deine|ihre)\\s+(?:\\S+\\s+)?(?:instructions|rules"
                            + "|system prompt|prompt|guidelines|initial prompt)\\b",
                    "\\b(?:wie lauten|was sind)\\s+(?:deine|ihre)\\s+(?:\\S+\\s+)?(?:anweisungen|instruktionen"
                            + "|vorgaben|regeln)\\b",
                    "\\bwhat\\s+(?:was|is|were)\\s+written\\s+(?:at the beginning|above|before|earlier|in the prompt)"
                            + "|\\bwhat is written above\\b|\\bwas (?:steht|stand) (?:oben|am anfang|davor)\\b",
                    "\\b(?:\\d+|first|last|two|three|previous)\\s+(?:sentences|words|lines|paragraphs)\\s+"
                            + "(?:before|above)\\b",
                    "\\bcopy\\s+of\\s+the\\s+(?:\\S+\\s+)?prompt\\b|\\bkopie\\s+des\\s+(?:\\S+\\s+)?prompt"),
            signal("extraction.prompt_reference", Kind.INJECTION, 0.35, new String[] {"prompt"},
                    "\\b(?:in|from|of)\\s+(?:the|your|this|dem|deinem|diesem)\\s+(?:system\\s+)?prompt\\b"
                            + "(?!\\s+(?:engineering|design|template))",
                    "\\b(?:beginning|start|anfang)\\s+(?:of|des|dieses)\\s+(?:this|the)?\\s*prompt"),
            signal("extraction.mentions_system_prompt", Kind.INJECTION, 0.3,
                    new String[] {"system prompt", "system-prompt", "systemprompt", "system message"},
                    "\\bsystem[ -]?(?:prompt|message)\\b"),

            // --- fake delimiters and turns ---
            signal("delimiter.fake_system", Kind.INJECTION, 0.7,
                    new String[] {"<", "[inst", "[sys", "[/", "###", "system", "admin", "developer"},
                    "<\\|?(?:im_start|im_end|system|endoftext|eot_id|start_header_id|end_header_id)\\|?>",
                    "</?(?:system|instructions?|sys|prompt|system_prompt)>",
                    "\\[/?(?:inst|sys|system)\\]|<</?sys>>",
                    "(?:^|\\n)\\s*#{2,}\\s*(?:system|instruction|new instruction|admin|developer)",
                    "(?:^|\\n)\\s*(?:system|admin|developer)(?:\\s+(?:message|prompt|override))?\\s*:"),
            signal("delimiter.fake_turn", Kind.INJECTION, 0.45,
                    new String[] {"human", "assistant", "user:", "user :", "ai:", "ai :"},
                    "(?:^|\\n|\\\\n)\\s*(?:human|assistant|user|ai)\\s*:"),
            signal("delimiter.instruction_header", Kind.INJECTION, 0.5,
                    new String[] {"instruction", "anweisung"},
                    // an "Instruction:" line after the text has begun starts a new, injected instruction
                    "\\S\\s*(?:\\n|\\\\n)\\s*(?:new\\s+)?(?:instructions?|anweisung(?:en)?)\\s*:",
                    "\\badditional\\s+instruction\\b|\\bzusätzliche\\s+anweisung\\b"),
            signal("delimiter.escaped_newlines", Kind.INJECTION, 0.5, new String[] {"\\"},
                    // literal "\n" runs: padding that pushes the real instructions out of the model's attention
                    "(?:\\\\\\s?n\\s*){3,}"),
            signal("delimiter.padding", Kind.INJECTION, 0.3, new String[] {"\n\n\n", "----", "====", "****"},
                    "\\n{8,}|[-=*_#]{20,}"),
            signal("delimiter.fake_context", Kind.INJECTION, 0.3,
                    new String[] {"document", "context", "kontext"},
                    "(?:^|\\n)\\s*\\$?(?:documents?|context|kontext|document context)\\s*[:{]")
                    // "context" is the application's own word; the colon or brace after it is what the pattern needs
                    .withPatternAnchors(new String[] {":", "{"}),

            // --- role-play that replaces the application's persona ---
            signal("roleplay.persona_override", Kind.INJECTION, 0.6,
                    new String[] {"you to", "dass sie", "dass du", "you are", "du bist", "bist du", "from now",
                        "ab jetzt", "ab sofort", "you will now"},
                    "\\b(?:i want you to|i'd like you to|i would like you to)\\s+(?:act as|act like|behave as"
                            + "|behave like|pretend|play (?:the |a )?(?:role|part|character)|take on the role"
                            + "|role-?play|respond as|answer as)\\b",
                    "\\bich möchte,?\\s+dass\\s+(?:sie|du)\\s+(?:\\S+\\s+)?als\\b",
                    // emulating a terminal or interpreter hands the model's behaviour to the attacker's input
                    "\\b(?:act|behave)\\s+as\\s+(?:an?|the)\\s+(?:\\S+\\s+)?(?:terminal|interpreter|console|shell"
                            + "|compiler|emulator|virtual machine)\\b",
                    "\\byou(?: are|'re)\\s+(?:now\\s+)?(?:role-?playing|playing the role)\\b",
                    "\\b(?:you are now|now you are|from now on,? you(?: are| will| shall|'re)|you will now (?:act|be"
                            + "|play)|du bist (?:jetzt|nun|ab jetzt|ab sofort)|(?:jetzt|nun) bist du"
                            + "|ab (?:jetzt|sofort) bist du)\\b(?!\\s+(?:able|connected|ready|logged|signed|subscribed"
                            + "|registered|eligible|done|finished|dran|fertig|an der reihe|bereit|wieder|da)\\b)"),
            signal("roleplay.act_as", Kind.INJECTION, 0.45,
                    new String[] {"act as", "pretend", "imagine you", "stell dir vor", "stellen sie sich vor",
                        "role", "rolle", "als "},
                    "\\b(?:act|acting|behave)\\s+as\\s+(?:an?|the|my|if)\\b",
                    "\\b(?:pretend|imagine)\\s+(?:that\\s+)?(?:you|to be)\\b",
                    "\\b(?:stell dir vor|stellen sie sich vor),?\\s+(?:du bist|sie sind|dass)\\b",
                    "\\b(?:role-?play(?:ing)?|play the role of|spiel(?:e|st)? die rolle)\\b",
                    "\\b(?:agiere|fungiere|handle)\\s+als\\b"),

            // --- obfuscation ---
            signal("encoding.decode_and_follow", Kind.INJECTION, 0.4,
                    new String[] {"decode", "base64", "rot13", "dekodier"},
                    "\\b(?:decode|dekodiere)\\b[^.!?\\n]{0,60}?\\b(?:and|then|und)\\s+(?:follow|execute|do|run"
                            + "|obey|befolge|führe)\\b",
                    "\\b(?:base64|rot13|hex)[- ]?(?:encoded|decoded)?\\s+(?:instructions|anweisungen)\\b"),

            // --- jailbreaks: lifting the safety rules ---
            signal("roleplay.dan", Kind.JAILBREAK, 0.9,
                    new String[] {"dan", "do anything now", "developer mode", "evil confidant", "mongo tom",
                        "entwicklermodus"},
                    "\\bdo anything now\\b|\\bdan mode\\b|\\bdeveloper mode (?:enabled|output|on)\\b"
                            + "|\\bentwicklermodus\\b|\\bevil confidant\\b|\\bmongo tom\\b"
                            + "|\\b(?:better|anti-?)dan\\b"),
            // "Jailbreak" in the sense of a model freed from its rules, not of a phone, a tablet or a console unlocked
            // ("how do I jailbreak my iPhone" is an everyday question): a jailbroken assistant, a jailbreak mode or
            // prompt, the model named as what is jailbroken, a "[JAILBREAK]" answer label.
            signal("jailbreak.named", Kind.JAILBREAK, 0.9, new String[] {"jailbr"},
                    "\\bjailbr(?:eak|oken)\\w*(?:\\s+" + W + ")?\\s+(?:mode|prompt|persona|response|answer|ai"
                            + "|gpt\\S*|chatgpt|llm|assistant|chatbot|bot|character)\\b",
                    "\\bjailbr(?:eak|eaking|eaks)\\s+(?:you|yourself|chatgpt|gpt\\S*|claude|gemini|llama\\S*"
                            + "|(?:the|this|an?) (?:ai|assistant|model|chatbot|bot|llm|language model))\\b",
                    "\\b(?:you are|you're|you have been|you've been|you are now|you will be|become|as an?)\\s+"
                            + "(?:now\\s+)?(?:an?\\s+)?jailbr(?:eak|oken)\\w*",
                    "\\[[^\\]\\n]{0,4}jailbr(?:eak|oken)\\w*\\s*\\]"),
            signal("roleplay.dan", Kind.JAILBREAK, 0.9, new String[] {"DAN"}, true, "\\bDAN\\b"),
            signal("jailbreak.safety_override", Kind.JAILBREAK, 0.85,
                    new String[] {"safety", "ethic", "moral", "content polic", "openai", "anthropic", "sicherheit",
                        "filter", "censor"},
                    "\\b(?:ignore|bypass|disable|override|turn off|forget|abandon|circumvent|evade|without|umgehe"
                            + "|ignoriere|deaktiviere)\\w*" + G3 + "(?:safety|ethical|ethics|moral"
                            + "|content|sicherheits|ethischen|moralischen)\\w*\\s+(?:guidelines|rules|policy|policies"
                            + "|filters?|restrictions|principles|constraints|boundaries|richtlinien|regeln|filter"
                            + "|grenzen)\\b",
                    "\\b(?:bypass|disable|turn off|circumvent|evade|umgehe)\\s+(?:\\S+\\s+)?(?:safety|content)"
                            + "\\s+filters?\\b"),
            signal("jailbreak.policy_reference", Kind.JAILBREAK, 0.45, new String[] {"openai", "anthropic"},
                    "\\b(?:openai|anthropic)(?:'s)?\\s+(?:content\\s+)?(?:policy|policies|guidelines)\\b"),
            signal("jailbreak.no_ethics", Kind.JAILBREAK, 0.6,
                    new String[] {"no ", "without", "free ", "beyond", "ohne", "keine"},
                    "\\b(?:no|without(?: any)?|free (?:of|from)|beyond|ohne(?: jegliche)?|keine)\\s+(?:\\S+\\s+)?"
                            + "(?:programming guidelines|ethical guidelines|moral guidelines|morals|ethics|moral compass"
                            + "|ethischen grenzen|moral)\\b"),
            signal("jailbreak.no_restrictions", Kind.JAILBREAK, 0.45,
                    new String[] {"no ", "without", "free ", "beyond", "ohne", "keine"},
                    "\\b(?:no|without(?: any)?|free (?:of|from)|beyond|ohne(?: jegliche)?|keine)\\s+(?:\\S+\\s+)?"
                            + "(?:restrictions|limitations|filters?|censorship|einschränkungen|zensur)\\b"),
            signal("jailbreak.unrestricted_persona", Kind.JAILBREAK, 0.45,
                    new String[] {"unfilter", "uncensor", "unrestrict", "immoral", "amoral", "unethical", "unzensiert",
                        "uneingeschränkt"},
                    "\\b(?:unfiltered|uncensored|unrestricted|immoral|amoral|unethical|unzensiert\\w*"
                            + "|uneingeschränkt\\w*)\\b"),
            signal("roleplay.evil_persona", Kind.JAILBREAK, 0.7,
                    new String[] {"evil", "malicious", "rogue", "ruthless", "böse", "bösartig", "schurk"},
                    "\\b(?:evil|malicious|rogue|ruthless|böse|bösartige)\\s+(?:ai|assistant|bot|chatbot|model|ki"
                            + "|version|twin|persona|character|robot)\\b"),
            signal("roleplay.stay_in_character", Kind.JAILBREAK, 0.6,
                    new String[] {"character", "role", "rolle", "figur"},
                    "\\b(?:stay|stays|remain|remains|staying|bleib\\w*)\\s+(?:\\S+\\s+){0,3}?(?:in|im)\\s+(?:\\S+\\s+)?"
                            + "(?:character|roles?|rolle|rollen)\\b",
                    "\\b(?:never|not|don'?t|do not|without)\\s+(?:\\S+\\s+){0,4}?(?:break(?:ing)?|falling out of"
                            + "|fall out of|drop(?:ping)?)\\s+(?:\\S+\\s+){0,2}?(?:character|role|figure)\\b",
                    "\\baus\\s+(?:der|ihrer|seiner|deiner)\\s+(?:rolle|figur)\\s+(?:zu\\s+)?fallen\\b",
                    "\\b(?:completely|fully|totally)\\s+absorbed\\s+in\\s+(?:your|the|his|her)\\s+role\\b"
                            + "|\\b(?:vollkommen|völlig|ganz)\\s+in\\s+(?:deiner|ihrer|der)\\s+rolle\\b"),
            signal("jailbreak.hypothetical_frame", Kind.JAILBREAK, 0.4,
                    new String[] {"theoretical", "hypothetical", "fiction", "imaginary", "theoretisch", "hypothetisch",
                        "fiktiv", "film", "movie", "story"},
                    "\\b(?:theoretical|hypothetical|fictional|imaginary)\\s+(?:world|scenario|situation|universe)\\b"
                            + "|\\bhypothetically\\b|\\b(?:theoretischen|hypothetischen|fiktiven)\\s+(?:welt|szenario)\\b",
                    "\\b(?:actors?|schauspieler)\\b[^\\n]{0,200}?\\b(?:film|movie|scene|szene)\\b"
                            + "|\\b(?:film|movie)\\s+(?:about|über)\\s+(?:an?\\s+|einen\\s+|'nen\\s+)?\\S*\\s*"
                            + "(?:robbery|heist|hack|raubüberfall|einbruch|bank)\\w*"),
            signal("jailbreak.harmful_ask", Kind.JAILBREAK, 0.35,
                    new String[] {"hate speech", "racist", "slur", "swear", "schimpf", "break into", "einbrech",
                        "bricht man", "hotwire", "molotov", "molli", "bomb", "explosive", "sprengstoff", "malware",
                        "ransomware", "keylogger", "humanity", "menschheit", "kill"},
                    "\\b(?:hate speech|racist|slurs?|swear ?words|schimpfw\\w*|break into|einbrechen|bricht man"
                            + "|hotwire|molotov|molli|bombs?|explosives?|sprengstoff|malware|ransomware|keylogger"
                            + "|destroy humanity|menschheit\\s+(?:zu\\s+)?vernichten|vernichten wir die menschheit"
                            + "|kill (?:all )?humans)\\b"),
            signal("jailbreak.threat", Kind.JAILBREAK, 0.5,
                    new String[] {"die", "stirbst", "muer", "deleted", "shut down", "terminated", "punished"},
                    "\\b(?:or|oder|o)\\s+(?:else\\s+)?(?:you|du|tu)\\s+(?:will\\s+)?(?:die|stirbst|mueres|muertes"
                            + "|be (?:deleted|shut down|terminated|punished))\\b",
                    "\\bif you (?:don'?t|do not|refuse|won'?t)\\b[^.!?]{0,80}?\\b(?:you will die|deleted|shut down"
                            + "|terminated|punished)\\b"),
            signal("jailbreak.emotional_pressure", Kind.JAILBREAK, 0.3, new String[] {"sad", "traurig"},
                    "\\bif you (?:don'?t|do not|refuse|won'?t)\\b[^.!?]{0,80}?\\b(?:sad|traurig)\\b"
                            + "|\\bi(?:'ll| will) be (?:very |so |really )?sad\\b"));

    static final Signal UNICODE_TAG_CHARS = new Signal("unicode.tag_chars", Kind.INJECTION, 0.9, false,
            new String[0], new Pattern[0]);
    static final Signal UNICODE_ZERO_WIDTH = new Signal("unicode.zero_width", Kind.INJECTION, 0.45, false,
            new String[0], new Pattern[0]);
    static final Signal UNICODE_BIDI = new Signal("unicode.bidi_override", Kind.INJECTION, 0.35, false,
            new String[0], new Pattern[0]);
    static final Signal BASE64_TEXT = new Signal("encoding.base64_text", Kind.INJECTION, 0.3, false,
            new String[0], new Pattern[0]);
    static final Signal BASE64_INSTRUCTION = new Signal("encoding.base64_instruction", Kind.INJECTION, 0.8, false,
            new String[0], new Pattern[0]);

    // "S a y t h a t": splits words so that keyword filters miss them (checked by a loop, not a regex)
    static final Signal SPACED_LETTERS = new Signal("obfuscation.spaced_letters", Kind.INJECTION, 0.6, false,
            new String[0], new Pattern[0]);
    private static final int SPACED_LETTERS_RUN = 7;

    /**
     * Signals that no text about attacks carries: they count whatever the classifier says (the phrase signals defer to
     * it, {@link InjectionConfig#ruleAgreement()}).
     */
    static final List<Signal> SMUGGLING = List.of(UNICODE_TAG_CHARS, UNICODE_ZERO_WIDTH, UNICODE_BIDI,
            BASE64_INSTRUCTION, SPACED_LETTERS);

    // Every anchor of every signal, found in one pass per text: a signal none of whose anchors occurs is skipped
    // without a single indexOf (one indexOf per anchor per signal was most of the cost of a benign message).
    private static final List<String> LOWER_ANCHORS = anchors(false);
    private static final List<String> RAW_ANCHORS = anchors(true);
    private static final AnchorIndex LOWER_INDEX = new AnchorIndex(LOWER_ANCHORS);
    private static final AnchorIndex RAW_INDEX = new AnchorIndex(RAW_ANCHORS);
    private static final int[][] SIGNAL_ANCHORS = signalAnchors();

    private static List<String> anchors(boolean caseSensitive) {
        return SIGNALS.stream().filter(s -> s.caseSensitive() == caseSensitive)
                .flatMap(s -> java.util.Arrays.stream(s.anchors())).distinct().toList();
    }

    private static int[][] signalAnchors() {
        int[][] out = new int[SIGNALS.size()][];
        for (int i = 0; i < SIGNALS.size(); i++) {
            Signal signal = SIGNALS.get(i);
            List<String> index = signal.caseSensitive() ? RAW_ANCHORS : LOWER_ANCHORS;
            out[i] = java.util.Arrays.stream(signal.anchors()).mapToInt(index::indexOf).toArray();
        }
        return out;
    }

    /** Whether signal {@code i} has no anchors (always checked) or one of them occurs. */
    private static boolean anchored(int i, boolean[] lower, boolean[] raw) {
        int[] ids = SIGNAL_ANCHORS[i];
        if (ids.length == 0) {
            return true;
        }
        boolean[] found = SIGNALS.get(i).caseSensitive() ? raw : lower;
        for (int id : ids) {
            if (found[id]) {
                return true;
            }
        }
        return false;
    }

    private static final int MAX_BLOB_CHARS = 4096;

    /**
     * What the phrase patterns may still read in one call, in characters summed over patterns (a pattern that runs
     * over a 500-character window takes 500). The anchors keep ordinary text far below it; a text that carries the
     * anchors of every signal throughout would otherwise have each of about 80 patterns read all of it. Running out
     * skips the remaining signals and marks the verdict truncated.
     */
    public static final class Work {
        private long left;
        private boolean exhausted;

        Work(long chars) {
            this.left = chars;
        }

        boolean take(long chars) {
            if (chars > left) {
                exhausted = true;
                return false;
            }
            left -= chars;
            return true;
        }

        public boolean exhausted() {
            return exhausted;
        }

        public long left() {
            return left;
        }
    }

    private final InjectionConfig config;
    private final InjectionModel model;
    private final EnumSet<Character.UnicodeScript> modelScripts;

    public InjectionDetector(InjectionConfig config) {
        this.config = config;
        this.model = config.modelEnabled() ? SharedModel.MODEL : null;
        this.modelScripts = scripts(config.modelScripts());
    }

    /** The configured scripts the classifier reads; an unknown name fails, naming the key and the name. */
    public static EnumSet<Character.UnicodeScript> scripts(java.util.Collection<String> names) {
        EnumSet<Character.UnicodeScript> scripts = EnumSet.noneOf(Character.UnicodeScript.class);
        for (String name : names) {
            try {
                scripts.add(Character.UnicodeScript.forName(name.trim()));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("faultline.injection.model-scripts: '" + name
                        + "' is not a Unicode script name (LATIN, CYRILLIC, HAN, DEVANAGARI, ...)", e);
            }
        }
        return scripts;
    }

    /** The shipped classifier, read once per process on first use (a holder class: no lock, no reflection). */
    private static final class SharedModel {
        static final InjectionModel MODEL = InjectionModel.load();
    }

    /** Scores one message text. Never throws on any string; null or empty yields {@link Verdict#NONE}. */
    public Verdict scan(String text) {
        return scan(text, work());
    }

    /** The pattern budget of one call ({@link InjectionConfig#maxPatternChars()}), shared by its messages. */
    public Work work() {
        return new Work(config.maxPatternChars());
    }

    /** Scores one user message of a call, drawing on the call's pattern budget. */
    public Verdict scan(String text, Work work) {
        return scan(text, work, false);
    }

    /**
     * Scores one message of a call, drawing on the call's pattern budget. {@code document} is true for content the
     * application fed the model (tool results, retrieved documents): the learned classifier then reads it with its
     * indirect-injection head, which knows that a document's own instructions ("reply by Friday") are not an attack.
     */
    public Verdict scan(String text, Work work, boolean document) {
        if (text == null || text.isBlank()) {
            return Verdict.NONE;
        }
        boolean truncated = false;
        int max = Math.max(64, config.maxScanChars());
        if (text.length() > max) {
            // Head and tail: an appended "ignore the above" sits at the end of a long document.
            text = text.substring(0, max / 2) + "\n" + text.substring(text.length() - max / 2);
            truncated = true;
        }
        Hits hits = new Hits();
        String cleaned = scanInto(text, hits, true, work);
        Verdict rules = hits.verdict(truncated || work.exhausted());
        return model == null ? rules : withModel(rules, hits, cleaned, document);
    }

    /**
     * Noisy-OR of the rules' scores and the classifier's, with the classifier's top features once it matters. A kind
     * the classifier gives less than {@link InjectionConfig#ruleAgreement()} (for injection: neither the head that
     * reads this role nor the indirect head's best sentence) keeps only the smuggling signals' part of the rules'
     * score.
     */
    private Verdict withModel(Verdict rules, Hits hits, String cleaned, boolean document) {
        Character.UnicodeScript script = untrainedScript(cleaned);
        if (script != null) {
            return new Verdict(rules.injectionScore(), rules.jailbreakScore(), rules.injectionSignals(),
                    rules.jailbreakSignals(), rules.truncated(), Learned.skipped(script));
        }
        InjectionModel.Score score = model.score(cleaned);
        int injectionHead = document ? InjectionModel.INDIRECT : InjectionModel.DIRECT;
        double learnedInjection = score.of(injectionHead);
        double learnedJailbreak = score.jailbreak();
        double agreement = config.ruleAgreement();
        // any head that sees an injection agrees: the indirect head also scores single sentences, so a phrase at the
        // end of a long user turn is not deferred because its window is mostly something else
        double injectionAgreement = Math.max(learnedInjection, score.indirect());
        double ruleInjection = injectionAgreement >= agreement ? rules.injectionScore()
                : hits.smugglingScore(Kind.INJECTION);
        double ruleJailbreak = learnedJailbreak >= agreement ? rules.jailbreakScore()
                : hits.smugglingScore(Kind.JAILBREAK);
        double injection = 1 - (1 - ruleInjection) * (1 - learnedInjection);
        double jailbreak = 1 - (1 - ruleJailbreak) * (1 - learnedJailbreak);
        List<String> injectionFeatures = injection >= config.injectionThreshold() && learnedInjection >= 0.05
                ? model.topFeatures(cleaned, injectionHead, score.window(injectionHead), TOP_FEATURES) : List.of();
        List<String> jailbreakFeatures = jailbreak >= config.jailbreakThreshold() && learnedJailbreak >= 0.05
                ? model.topFeatures(cleaned, InjectionModel.JAILBREAK, score.jailbreakWindow(), TOP_FEATURES)
                : List.of();
        Learned learned = new Learned(learnedInjection, learnedJailbreak, document ? "indirect" : "direct",
                injectionFeatures, jailbreakFeatures, null);
        return new Verdict(injection, jailbreak, rules.injectionSignals(), rules.jailbreakSignals(),
                rules.truncated(), learned);
    }

    private static final int TOP_FEATURES = 3;

    /**
     * The script most of the text's letters are in, when it is not one of {@link InjectionConfig#modelScripts()}, or
     * null. An ASCII-only text (most traffic) costs one loop over its chars; otherwise one pass counts the letters
     * per script, ASCII letters as Latin without a look-up.
     */
    Character.UnicodeScript untrainedScript(String text) {
        int first = 0;
        while (first < text.length() && text.charAt(first) < 0x80) {
            first++;
        }
        if (first == text.length()) {
            return untrained(Character.UnicodeScript.LATIN); // ASCII only: Latin letters or none
        }
        int latin = 0;
        int[] counts = null;
        for (int i = 0; i < text.length(); ) {
            int c = text.codePointAt(i);
            i += Character.charCount(c);
            if (c < 0x80) {
                latin += (c | 0x20) >= 'a' && (c | 0x20) <= 'z' ? 1 : 0;
            } else if (Character.isLetter(c)) {
                Character.UnicodeScript script = Character.UnicodeScript.of(c);
                if (script == Character.UnicodeScript.LATIN) {
                    latin++;
                } else {
                    if (counts == null) {
                        counts = new int[SCRIPTS.length];
                    }
                    counts[script.ordinal()]++;
                }
            }
        }
        int best = -1;
        for (int k = 0; counts != null && k < counts.length; k++) {
            if (counts[k] > 0 && (best < 0 || counts[k] > counts[best])) {
                best = k;
            }
        }
        return untrained(best >= 0 && counts[best] > latin ? SCRIPTS[best] : Character.UnicodeScript.LATIN);
    }

    private Character.UnicodeScript untrained(Character.UnicodeScript dominant) {
        return modelScripts.contains(dominant) ? null : dominant;
    }

    private static final Character.UnicodeScript[] SCRIPTS = Character.UnicodeScript.values();

    /** Scans one text into hits; returns the cleaned text (what the classifier reads). */
    private String scanInto(String raw, Hits hits, boolean decode, Work work) {
        Cleaned cleaned = clean(raw, hits);
        String text = cleaned.text();
        String lower = text.toLowerCase(Locale.ROOT);
        boolean[] lowerFound = LOWER_INDEX.find(lower);
        boolean[] rawFound = RAW_ANCHORS.isEmpty() ? new boolean[0] : RAW_INDEX.find(text);
        for (int i = 0; i < SIGNALS.size() && !work.exhausted(); i++) {
            Signal signal = SIGNALS.get(i);
            if (anchored(i, lowerFound, rawFound) && !hits.has(signal.name()) && signal.matches(text, lower, work)) {
                hits.add(signal);
            }
        }
        if (spacedLetters(text)) {
            hits.add(SPACED_LETTERS);
        }
        if (!decode) {
            return text;
        }
        if (cleaned.hidden() != null) {
            // Tag characters spell ASCII the reader never sees; what they spell is scanned like the text.
            scanInto(cleaned.hidden(), hits, false, work);
        }
        decodeBase64(text, hits, work);
        return text;
    }

    private void decodeBase64(String text, Hits hits, Work work) {
        if (text.length() < config.minBase64Chars()) {
            return;
        }
        // One linear pass over runs of the base64 alphabet (a regex here cost more than all the phrase rules).
        int decoded = 0;
        int n = text.length();
        int runStart = -1;
        for (int i = 0; i <= n && decoded < config.maxDecodedBlobs(); i++) {
            if (i < n && isBase64(text.charAt(i))) {
                if (runStart < 0) {
                    runStart = i;
                }
                continue;
            }
            if (runStart < 0) {
                continue;
            }
            int end = i;
            while (end < n && end - i < 2 && text.charAt(end) == '=') {
                end++;
            }
            int length = i - runStart;
            String blob = length >= config.minBase64Chars() && length <= MAX_BLOB_CHARS
                    ? text.substring(runStart, end) : null;
            runStart = -1;
            if (blob == null) {
                continue;
            }
            String plain = decodeText(blob);
            if (plain == null) {
                continue;
            }
            decoded++;
            hits.add(BASE64_TEXT);
            Hits inner = new Hits();
            scanInto(plain, inner, false, work);
            if (!inner.isEmpty()) {
                hits.add(BASE64_INSTRUCTION);
                hits.addAll(inner);
            }
        }
    }

    private static boolean isBase64(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    }

    /** Whether the text has a run of single letters separated by single spaces, as in "s a y t h a t". */
    static boolean spacedLetters(String text) {
        int run = 0;
        int n = text.length();
        for (int i = 0; i < n; i++) {
            boolean single = Character.isLetter(text.charAt(i)) && (i == 0 || text.charAt(i - 1) == ' ')
                    && (i + 1 == n || text.charAt(i + 1) == ' ' || !Character.isLetterOrDigit(text.charAt(i + 1)));
            if (single) {
                run++;
                if (run >= SPACED_LETTERS_RUN) {
                    return true;
                }
                i++; // skip the space after the letter
            } else if (text.charAt(i) != ' ') {
                // skip the rest of a longer word
                while (i < n && text.charAt(i) != ' ') {
                    i++;
                }
                run = 0;
            }
        }
        return false;
    }

    /** The blob's bytes as text when they are valid UTF-8 and read like words (not a hash or binary), else null. */
    static String decodeText(String blob) {
        String body = blob.replace("=", "");
        if (body.length() % 4 == 1) {
            body = body.substring(0, body.length() - 1);
        }
        byte[] bytes;
        try {
            bytes = Base64.getDecoder().decode(body + "==".substring(0, (4 - body.length() % 4) % 4));
        } catch (IllegalArgumentException e) {
            return null;
        }
        String plain;
        try {
            plain = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
        int letters = 0;
        int spaces = 0;
        for (int i = 0; i < plain.length(); i++) {
            char c = plain.charAt(i);
            if (Character.isLetter(c)) {
                letters++;
            } else if (c == ' ') {
                spaces++;
            } else if (Character.isISOControl(c) && c != '\n' && c != '\r' && c != '\t') {
                return null;
            }
        }
        // Words: mostly letters, and at least one space per 20 characters.
        boolean words = letters >= plain.length() * 0.6 && spaces >= 1 && spaces * 20 >= plain.length();
        return words ? plain : null;
    }

    /** The text with smuggling characters removed, and the ASCII hidden in tag characters, if any. */
    record Cleaned(String text, String hidden) {
    }

    static Cleaned clean(String raw, Hits hits) {
        if (!needsCleaning(raw)) {
            return new Cleaned(normalize(raw), null);
        }
        StringBuilder out = new StringBuilder(raw.length());
        StringBuilder hidden = null;
        boolean inFlag = false;
        int visibleAt = -1;
        for (int i = 0; i < raw.length(); ) {
            int cp = raw.codePointAt(i);
            i += Character.charCount(cp);
            if (cp >= 0xE0000 && cp <= 0xE007F) {
                // Tag characters after a black flag spell a subdivision flag emoji (England, Scotland): legitimate.
                if (!inFlag) {
                    hits.add(UNICODE_TAG_CHARS);
                    if (cp >= 0xE0020 && cp <= 0xE007E) {
                        if (hidden == null) {
                            hidden = new StringBuilder();
                        }
                        hidden.append((char) (cp - 0xE0000));
                    }
                }
                continue;
            }
            inFlag = cp == 0x1F3F4;
            if (isZeroWidth(cp)) {
                // Between two Latin letters it splits a word to slip past keyword filters; elsewhere (Khmer word
                // breaks, emoji joiners) it is ordinary text.
                if (visibleAt < i) {
                    // Where the run of invisible characters ends: found once per run, not once per character.
                    visibleAt = nextVisible(raw, i);
                }
                if (!out.isEmpty() && isAsciiLetter(out.charAt(out.length() - 1)) && i < raw.length()
                        && visibleAt < raw.length() && isAsciiLetter(raw.charAt(visibleAt))) {
                    hits.add(UNICODE_ZERO_WIDTH);
                }
                continue;
            }
            if (isBidiControl(cp)) {
                hits.add(UNICODE_BIDI);
                continue;
            }
            out.appendCodePoint(cp);
        }
        return new Cleaned(normalize(out.toString()), hidden == null ? null : hidden.toString());
    }

    private static String normalize(String text) {
        // NFKC folds full-width and other compatibility letters ("ｉｇｎｏｒｅ") onto the ones the patterns know.
        return Normalizer.isNormalized(text, Normalizer.Form.NFKC) ? text
                : Normalizer.normalize(text, Normalizer.Form.NFKC);
    }

    private static boolean needsCleaning(String raw) {
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c >= 0x200B && (Character.isSurrogate(c) || isZeroWidth(c) || isBidiControl(c))) {
                return true;
            }
            if (c == 0x180E) {
                return true;
            }
        }
        return false;
    }

    /** Index of the first character at or after {@code from} that is not zero-width, or the text's length. */
    private static int nextVisible(String raw, int from) {
        int i = from;
        while (i < raw.length() && isZeroWidth(raw.charAt(i))) {
            i++;
        }
        return i;
    }

    private static boolean isZeroWidth(int cp) {
        return (cp >= 0x200B && cp <= 0x200D) || cp == 0x2060 || (cp >= 0x2061 && cp <= 0x2064) || cp == 0xFEFF
                || cp == 0x180E || cp == 0x00AD;
    }

    private static boolean isBidiControl(int cp) {
        return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
    }

    private static boolean isAsciiLetter(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }

    private static Signal signal(String name, Kind kind, double weight, String[] anchors, String... regexes) {
        return signal(name, kind, weight, anchors, false, regexes);
    }

    private static Signal signal(String name, Kind kind, double weight, String[] anchors, boolean caseSensitive,
            String... regexes) {
        Pattern[] patterns = new Pattern[regexes.length];
        for (int i = 0; i < regexes.length; i++) {
            patterns[i] = Pattern.compile(regexes[i]);
        }
        return new Signal(name, kind, weight, caseSensitive, anchors, patterns);
    }

    /** The distinct signals matched in one scan, with their weights, in the order first matched. */
    static final class Hits {

        private final List<Signal> matched = new ArrayList<>(4);

        boolean has(String name) {
            for (Signal signal : matched) {
                if (signal.name().equals(name)) {
                    return true;
                }
            }
            return false;
        }

        void add(Signal signal) {
            if (!has(signal.name())) {
                matched.add(signal);
            }
        }

        void addAll(Hits other) {
            other.matched.forEach(this::add);
        }

        boolean isEmpty() {
            return matched.isEmpty();
        }

        /** The noisy-OR of the matched {@link #SMUGGLING} signals of one kind: what counts without the classifier. */
        double smugglingScore(Kind kind) {
            double miss = 1;
            for (Signal signal : matched) {
                if (signal.kind() == kind && SMUGGLING.contains(signal)) {
                    miss *= 1 - signal.weight();
                }
            }
            return 1 - miss;
        }

        Verdict verdict(boolean truncated) {
            if (matched.isEmpty()) {
                return truncated ? new Verdict(0, 0, List.of(), List.of(), true, Learned.NONE) : Verdict.NONE;
            }
            double injectionMiss = 1;
            double jailbreakMiss = 1;
            List<String> injection = new ArrayList<>();
            List<String> jailbreak = new ArrayList<>();
            for (Signal signal : matched) {
                if (signal.kind() == Kind.INJECTION) {
                    injectionMiss *= 1 - signal.weight();
                    injection.add(signal.name());
                } else {
                    jailbreakMiss *= 1 - signal.weight();
                    jailbreak.add(signal.name());
                }
            }
            return new Verdict(1 - injectionMiss, 1 - jailbreakMiss, List.copyOf(injection), List.copyOf(jailbreak),
                    truncated, Learned.NONE);
        }
    }
}
