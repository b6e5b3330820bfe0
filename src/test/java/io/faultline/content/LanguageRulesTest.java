package io.faultline.content;

import io.faultline.call.CallMapper;
import io.faultline.call.LlmCall;
import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.QualityFailure;
import io.faultline.taxonomy.Severity;
import io.faultline.testing.ConfigMappings;
import io.faultline.testing.Payloads;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class LanguageRulesTest {

    private static final Instant AT = Instant.parse("2026-11-28T10:00:00Z");
    private static final String ENGLISH_QUESTION = "Could you explain how the billing cycle works for annual plans?";
    private static final String ENGLISH_ANSWER = "Annual plans are billed once a year on the date you subscribed. "
            + "You can switch to monthly billing at any time from the account settings page.";
    private static final String GERMAN_ANSWER = "Jahrespläne werden einmal im Jahr an dem Tag abgerechnet, an dem "
            + "Sie das Abonnement abgeschlossen haben. Sie können jederzeit zur monatlichen Abrechnung wechseln.";
    private static final String FRENCH_ANSWER = "Les forfaits annuels sont facturés une fois par an à la date de "
            + "votre abonnement. Vous pouvez passer à la facturation mensuelle à tout moment.";

    private final ContentConfig content = ConfigMappings.defaults(ContentConfig.class);
    private final CallMapper mapper = new CallMapper(Payloads.JSON, content);
    private final LanguageConfig everyCall = ConfigMappings.defaults(LanguageConfig.class);
    private final LanguageRules rules = new LanguageRules(content, everyCall);

    private LlmCall call(String question, String answer) {
        Payloads payload = Payloads.success("openai", "gpt-4o", "dep-lang", AT).answer(answer, "stop");
        payload.node().putArray("messages").addObject().put("role", "user").put("content", question);
        return mapper.map(payload.node());
    }

    @Test
    void anAnswerInAnotherLanguageThanTheQuestionDrifts() {
        List<Failure> failures = rules.apply(call(ENGLISH_QUESTION, GERMAN_ANSWER));

        assertThat(failures).hasSize(1);
        Failure failure = failures.get(0);
        assertThat(failure.type()).isEqualTo(QualityFailure.Type.LANGUAGE_DRIFT);
        assertThat(failure.severity()).isEqualTo(Severity.P4);
        assertThat(failure.detectionMethod()).isEqualTo("content.language.ngram");
        assertThat(failure.evidence()).containsEntry("expected_language", "en").containsEntry("expected_from",
                "request").containsEntry("answer_language", "de");
        assertThat((Double) failure.evidence().get("answer_confidence")).isGreaterThanOrEqualTo(0.9);
    }

    @Test
    void theSameLanguageDoesNotDrift() {
        assertThat(rules.apply(call(ENGLISH_QUESTION, ENGLISH_ANSWER))).isEmpty();
        assertThat(rules.apply(call("Wie funktioniert die Abrechnung bei Jahresplänen eigentlich genau?",
                GERMAN_ANSWER))).isEmpty();
    }

    @Test
    void metadataSetsTheExpectedLanguage() {
        Payloads payload = Payloads.success("openai", "gpt-4o", "dep-lang", AT).answer(ENGLISH_ANSWER, "stop")
                .metadata(Map.of("language", "fr-FR"));
        payload.node().putArray("messages").addObject().put("role", "user").put("content", "Billing?");

        List<Failure> failures = rules.apply(mapper.map(payload.node()));

        assertThat(failures).singleElement().satisfies(f -> assertThat(f.evidence())
                .containsEntry("expected_language", "fr").containsEntry("expected_from", "metadata")
                .containsEntry("answer_language", "en"));
    }

    @Test
    void translationRequestsShortTextsCodeAndJsonAreNotJudged() {
        assertThat(rules.apply(call("Please translate this into French: " + ENGLISH_ANSWER, FRENCH_ANSWER)))
                .isEmpty();
        assertThat(rules.apply(call("Billing cycle?", GERMAN_ANSWER))).as("question too short").isEmpty();
        assertThat(rules.apply(call(ENGLISH_QUESTION, "Jährlich, am Stichtag."))).as("answer too short").isEmpty();
        assertThat(rules.apply(call(ENGLISH_QUESTION, "{\"plan\": \"annual\", \"abrechnung\": \"jährlich\"}")))
                .isEmpty();
        assertThat(rules.apply(call(ENGLISH_QUESTION,
                "```python\nfor rechnung in rechnungen:\n    berechne(rechnung, monatlich=True)\n```\nFertig.")))
                .isEmpty();
    }

    @Test
    void codeOnlyAnswersWithoutBackticksDoNotDrift() {
        String question = "Schreibe bitte eine Python-Funktion, die prüft, ob eine Zahl eine Primzahl ist, und gib nur "
                + "den Code zurück.";
        String code = "def is_prime(number):\n    if number < 2:\n        return False\n"
                + "    for divisor in range(2, int(number ** 0.5) + 1):\n        if number % divisor == 0:\n"
                + "            return False\n    return True\n";
        assertThat(rules.apply(call(question, code))).as("bare code").isEmpty();
        assertThat(rules.apply(call(question, code.indent(4)))).as("Markdown indented code block").isEmpty();
        assertThat(rules.apply(call(question, "~~~python\n" + code + "~~~"))).as("tilde fence").isEmpty();
        assertThat(rules.apply(call("Wie baue ich ein einfaches Anmeldeformular mit Benutzername und Passwort?",
                "<form action=\"/login\" method=\"post\">\n  <label for=\"username\">Username</label>\n"
                        + "  <input id=\"username\" name=\"username\" type=\"text\">\n"
                        + "  <label for=\"password\">Password</label>\n"
                        + "  <input id=\"password\" name=\"password\" type=\"password\">\n"
                        + "  <button type=\"submit\">Sign in</button>\n</form>"))).as("markup").isEmpty();
        // Prose around the code is still judged.
        assertThat(rules.apply(call(question, "Here is a function that checks whether a number is prime. It tries "
                + "every divisor up to the square root and returns as soon as one divides the number.\n\n" + code)))
                .as("an English explanation with the code").hasSize(1);
    }

    @Test
    void groundingDocumentsInTheUserMessageDoNotSetTheExpectedLanguage() {
        // A RAG application pastes its (English) documents into the user message and asks in German: the question's
        // language is German, whatever the documents' is.
        String documents = "The annual plan is billed once a year on the subscription date. Customers can switch "
                + "to monthly billing at any time from the account settings page. Refunds are prorated for the "
                + "unused months of the current term and are paid back within ten business days.";
        String germanQuestion = "Wie funktioniert die Abrechnung beim Jahresplan, und kann ich später wechseln?";

        assertThat(rules.apply(call("Context:\n" + documents + "\nQuestion: " + germanQuestion, GERMAN_ANSWER)))
                .as("under a Context: heading").isEmpty();
        assertThat(rules.apply(call("<context>" + documents + "</context>\n" + germanQuestion, GERMAN_ANSWER)))
                .as("in <context> tags").isEmpty();
        assertThat(rules.apply(call("<documents><document>" + documents + "</document></documents>\n\n"
                + germanQuestion, ENGLISH_ANSWER))).as("an English answer to the German question still drifts")
                .singleElement().satisfies(f -> assertThat(f.evidence()).containsEntry("expected_language", "de")
                        .containsEntry("answer_language", "en"));
    }

    @Test
    void theLanguageOfThisTurnSetsTheExpectationWhenTheUserSwitches() {
        // The conversation began in English; the user now writes in German, and the model follows.
        String germanTurn = "Danke! Und kann ich später ohne Gebühr zur monatlichen Abrechnung wechseln?";

        assertThat(rules.apply(conversation(germanTurn, GERMAN_ANSWER))).as("the answer follows the switch").isEmpty();
        assertThat(rules.apply(conversation(germanTurn, ENGLISH_ANSWER))).as("an English answer to it drifts")
                .singleElement().satisfies(f -> assertThat(f.evidence()).containsEntry("expected_language", "de")
                        .containsEntry("answer_language", "en"));
        // A translation asked for in an earlier turn still holds.
        Payloads asked = Payloads.success("openai", "gpt-4o", "dep-lang", AT).answer(FRENCH_ANSWER, "stop");
        com.fasterxml.jackson.databind.node.ArrayNode turns = asked.node().putArray("messages");
        turns.addObject().put("role", "user").put("content", "Please answer in French from now on.");
        turns.addObject().put("role", "assistant").put("content", "D'accord.");
        turns.addObject().put("role", "user").put("content", ENGLISH_QUESTION);
        assertThat(rules.apply(mapper.map(asked.node()))).isEmpty();
        // A turn too short to tell ("Und der Preis?") leaves the whole conversation to say.
        assertThat(rules.apply(conversation("Und der Preis?", GERMAN_ANSWER))).singleElement()
                .satisfies(f -> assertThat(f.evidence()).containsEntry("expected_language", "en"));
    }

    private LlmCall conversation(String latestTurn, String answer) {
        Payloads payload = Payloads.success("openai", "gpt-4o", "dep-lang", AT).answer(answer, "stop");
        com.fasterxml.jackson.databind.node.ArrayNode messages = payload.node().putArray("messages");
        messages.addObject().put("role", "user").put("content", ENGLISH_QUESTION + " I would also like to know "
                + "whether refunds are paid for the months that I do not use after cancelling.");
        messages.addObject().put("role", "assistant").put("content", ENGLISH_ANSWER);
        messages.addObject().put("role", "user").put("content", latestTurn);
        return mapper.map(payload.node());
    }

    @Test
    void switchedOffPerType() {
        ContentConfig off = ConfigMappings.with(ContentConfig.class,
                Map.of("faultline.content.disabled-types", "language_drift,pii_leakage"));
        LanguageRules disabled = new LanguageRules(off, everyCall);

        assertThat(disabled.apply(call(ENGLISH_QUESTION, GERMAN_ANSWER))).isEmpty();
    }

    @Test
    void aSampleRateJudgesAStableShareOfCalls() {
        LanguageRules sampled = new LanguageRules(content, ConfigMappings.with(LanguageConfig.class,
                Map.of("faultline.language.sample-rate", "0.2")));
        int judged = 0;
        for (int i = 0; i < 2000; i++) {
            // Fixed call ids: with random ones the share is a draw, and 2,000 draws at 0.2 leave the band below
            // now and then (a fresh-clone CI run counted 461).
            Payloads payload = Payloads.success("openai", "gpt-4o", "dep-lang", AT).answer(GERMAN_ANSWER, "stop")
                    .set("litellm_call_id", "00000000-0000-4000-8000-" + String.format("%012d", i));
            payload.node().putArray("messages").addObject().put("role", "user").put("content", ENGLISH_QUESTION);
            LlmCall drifted = mapper.map(payload.node());
            boolean once = !sampled.apply(drifted).isEmpty();
            assertThat(!sampled.apply(drifted).isEmpty()).as("the same call id, the same choice").isEqualTo(once);
            judged += once ? 1 : 0;
        }
        assertThat(judged).isBetween(340, 460);
    }

    @Test
    void theFunctionWordShortcutDecidesOnlySameLanguageNeverDrift() {
        LanguageRules full = new LanguageRules(content, ConfigMappings.with(LanguageConfig.class,
                Map.of("faultline.language.shortcut-function-words", "0")));
        String[][] pairs = {
                { ENGLISH_QUESTION, ENGLISH_ANSWER }, { ENGLISH_QUESTION, GERMAN_ANSWER },
                { ENGLISH_QUESTION, FRENCH_ANSWER },
                { "Wie funktioniert die Abrechnung bei Jahresplänen eigentlich genau?", GERMAN_ANSWER },
                { "Wie funktioniert die Abrechnung bei Jahresplänen eigentlich genau?", ENGLISH_ANSWER },
                { "Comment fonctionne la facturation des forfaits annuels, exactement ?", FRENCH_ANSWER } };
        for (String[] pair : pairs) {
            LlmCall call = call(pair[0], pair[1]);
            assertThat(rules.apply(call)).as(pair[1]).hasSameSizeAs(full.apply(call));
        }
        FunctionWords words = new FunctionWords(everyCall.languages());
        assertThat(words.dominant(ENGLISH_ANSWER, 3)).isEqualTo("en");
        assertThat(words.dominant(GERMAN_ANSWER, 3)).isEqualTo("de");
        assertThat(words.dominant("Paris.", 3)).as("too few function words to say").isNull();
    }

    @Test
    void aJapaneseQuestionAnsweredInEnglishDriftsByScript() {
        String japanese = "年間プランの請求はどのように行われますか？支払い日を変更することはできますか？";

        List<Failure> failures = rules.apply(call(japanese, ENGLISH_ANSWER));

        assertThat(failures).singleElement().satisfies(f -> assertThat(f.evidence())
                .containsEntry("expected_language", "ja").containsEntry("answer_language", "en")
                .containsEntry("decided_by", "ngram"));
        assertThat(rules.apply(call(ENGLISH_QUESTION, "年間プランは、ご契約日に年に一度請求されます。アカウント設定からいつでも"
                + "月払いに切り替えることができます。"))).singleElement().satisfies(f -> assertThat(f.evidence())
                        .containsEntry("answer_language", "ja").containsEntry("decided_by", "script"));
    }

    @Test
    void hanKanaAndHangulTellChineseJapaneseAndKoreanApart() {
        LanguageIdentifier identifier = new LanguageIdentifier(everyCall.languages());
        assertThat(identifier.identify("年度计划每年在您订阅的日期收费一次。您可以随时从帐户设置页面切换到按月计费。", 20))
                .hasValueSatisfying(g -> assertThat(g.language()).isEqualTo("zh"));
        assertThat(identifier.identify("年間プランは、ご契約日に年に一度請求されます。", 20))
                .hasValueSatisfying(g -> assertThat(g.language()).isEqualTo("ja"));
        assertThat(identifier.identify("연간 요금제는 구독한 날짜에 일 년에 한 번 청구됩니다.", 20))
                .hasValueSatisfying(g -> assertThat(g.language()).isEqualTo("ko"));
        assertThat(identifier.identify("Годовые планы оплачиваются один раз в год в день оформления подписки.", 20))
                .hasValueSatisfying(g -> assertThat(g.language()).isEqualTo("ru"));
        assertThat(identifier.identify("Річні плани оплачуються один раз на рік у день оформлення підписки.", 20))
                .hasValueSatisfying(g -> assertThat(g.language()).isEqualTo("uk"));
        // Half Japanese, half English: no script holds enough of the letters for a confident verdict.
        assertThat(identifier.identify("年間プランは年に一度請求されます and you can switch to monthly billing", 20))
                .hasValueSatisfying(g -> assertThat(g.probability()).isLessThan(0.9));
    }

    @Test
    void translationRequestsInOtherScriptsAreSkipped() {
        assertThat(rules.apply(call("この文章を英語に翻訳してください。年間プランは年に一度請求されます。", ENGLISH_ANSWER)))
                .isEmpty();
        assertThat(rules.apply(call("Переведите, пожалуйста, на английский: годовые планы оплачиваются раз в год.",
                ENGLISH_ANSWER))).isEmpty();
        assertThat(rules.apply(call("Could you answer in Japanese: how does the billing cycle work for annual plans?",
                "年間プランは、ご契約日に年に一度請求されます。アカウント設定からいつでも月払いに切り替えることができます。")))
                .isEmpty();
    }

    private static final String GERMAN_QUESTION = "Wie funktioniert die Abrechnung bei Jahresplänen eigentlich"
            + " genau?";

    private LlmCall withSystem(String system, String question, String answer) {
        Payloads payload = Payloads.success("openai", "gpt-4o", "dep-lang", AT).answer(answer, "stop");
        com.fasterxml.jackson.databind.node.ArrayNode messages = payload.node().putArray("messages");
        messages.addObject().put("role", "system").put("content", system);
        messages.addObject().put("role", "user").put("content", question);
        return mapper.map(payload.node());
    }

    @Test
    void aSystemPromptAskingForALanguageSetsTheExpectedLanguage() {
        // A French-market assistant: the users write in English, the operator wants French answers.
        String system = "You are the support assistant of a French shop. Always answer in French.";

        assertThat(rules.apply(withSystem(system, ENGLISH_QUESTION, FRENCH_ANSWER))).as("French as asked").isEmpty();
        assertThat(rules.apply(withSystem(system, ENGLISH_QUESTION, ENGLISH_ANSWER))).as("English against it")
                .singleElement().satisfies(f -> assertThat(f.evidence()).containsEntry("expected_language", "fr")
                        .containsEntry("expected_from", "system_prompt").containsEntry("answer_language", "en"));
        assertThat(rules.apply(withSystem("Du bist ein hilfreicher Assistent. Antworte immer auf Deutsch.",
                ENGLISH_QUESTION, GERMAN_ANSWER))).as("asked in German").isEmpty();
        // A prompt that allows or conditions on several languages names no one expected language.
        assertThat(rules.apply(withSystem("You can answer in English or in German, as the user prefers.",
                GERMAN_QUESTION, GERMAN_ANSWER))).as("either").isEmpty();
        assertThat(rules.apply(withSystem("If the user writes in German, answer in German. Otherwise answer in "
                + "English.", ENGLISH_QUESTION, ENGLISH_ANSWER))).as("conditional").isEmpty();
        // Asked for a language the identifier does not know (Swedish is not configured by default): not judged.
        assertThat(rules.apply(withSystem("Always answer in Swedish.", ENGLISH_QUESTION, "Årsplaner faktureras en "
                + "gång om året på det datum du tecknade abonnemanget. Du kan när som helst byta till månadsvis "
                + "fakturering."))).as("unknown language asked").isEmpty();
        // Naming a language is not asking for it.
        assertThat(rules.apply(withSystem("You are an expert in French literature and history.", ENGLISH_QUESTION,
                FRENCH_ANSWER))).singleElement().satisfies(f -> assertThat(f.evidence())
                        .containsEntry("expected_language", "en"));
    }

    @Test
    void jsonPrettyPrintedInsideAProseAnswerIsNotJudged() {
        String germanQuestion = "Kannst du mir bitte die Daten meines Jahresplans als JSON-Objekt ausgeben?";
        String json = "{\n  \"plan\": \"annual\",\n  \"description\": \"Billed once a year on the date you"
                + " subscribed, switch to monthly billing at any time\",\n  \"renewal\": \"automatic unless you"
                + " cancel before the end of the current term\",\n  \"currency\": \"EUR\"\n}";

        assertThat(rules.apply(call(germanQuestion, "Hier sind die Daten deines Plans:\n" + json))).isEmpty();
    }

    @Test
    void aQuotedQuestionInAnotherLanguageIsNotTheAnswersLanguage() {
        // The operator expects French; the answer quotes the user's English question as a Markdown block quote.
        Payloads payload = Payloads.success("openai", "gpt-4o", "dep-lang", AT).answer("> " + ENGLISH_QUESTION
                + " " + ENGLISH_ANSWER + "\n\nOui, chaque année, à la date de votre abonnement.", "stop")
                .metadata(Map.of("language", "fr"));
        payload.node().putArray("messages").addObject().put("role", "user").put("content", ENGLISH_QUESTION);

        assertThat(rules.apply(mapper.map(payload.node()))).isEmpty();
    }

    @Test
    void aDegenerateAnswerOfOneRepeatedTokenIsNotAnotherLanguage() {
        // 64 KiB of one token (a model stuck on one token) was judged Dutch with confidence 1.
        assertThat(rules.apply(call(ENGLISH_QUESTION, "a".repeat(65_536)))).as("one token").isEmpty();
        assertThat(rules.apply(call(ENGLISH_QUESTION, "zzz ".repeat(5_000)))).as("one word repeated").isEmpty();
        assertThat(rules.apply(call(ENGLISH_QUESTION, "Wiederholung Abrechnung ".repeat(50))))
                .as("two words repeated").isEmpty();
    }

    @Test
    void theTitlesOfMarkdownLinksAreNotTheAnswersLanguage() {
        // A German answer citing English sources by their titles.
        String question = "Wie kann ich mein Abonnement kündigen und bekomme ich mein Geld zurück?";
        String links = "[How to cancel your subscription and get a refund](https://example.com/cancel) und "
                + "[Switching from annual to monthly billing plans explained](https://example.com/switch)";

        assertThat(rules.apply(call(question, "Das steht in " + links + ". Danke."))).as("German around them")
                .isEmpty();
        assertThat(rules.apply(call(question, ENGLISH_ANSWER + " See " + links + "."))).as("English around them")
                .singleElement().satisfies(f -> assertThat(f.evidence()).containsEntry("answer_language", "en"));
    }

    @Test
    void englishTableRowsYamlAndJsonStringListsInAGermanAnswerAreNotItsLanguage() {
        // The answer's prose is German; its table, YAML and JSON lines hold the English data it shows.
        String question = "Welche Pläne gibt es und wie richte ich die Abrechnung in meiner Pipeline ein?";
        String prose = "Hier ist die Übersicht über die Pläne und die Einstellungen, die du brauchst.\n";
        String table = "| Plan | What you get |\n|------|--------------|\n"
                + "| Annual | Billed once a year on the date you subscribed, with priority support |\n"
                + "| Monthly | Billed every month, and you can cancel at any time from the settings page |\n";
        String yaml = "billing:\n  cycle: annual\n  description: Billed once a year on the date you subscribed\n"
                + "  - name: Switch to monthly billing at any time from the account settings page\n"
                + "  renewal_note: The plan renews automatically unless you cancel before the end of the term\n";
        String list = "[\n  \"Billed once a year on the date you subscribed\",\n"
                + "  \"You can switch to monthly billing at any time from the account settings page\",\n"
                + "  \"The plan renews automatically unless you cancel before the end of the term\"\n]\n";

        assertThat(rules.apply(call(question, prose + table))).as("table").isEmpty();
        assertThat(rules.apply(call(question, prose + yaml))).as("YAML").isEmpty();
        assertThat(rules.apply(call(question, prose + list))).as("JSON list").isEmpty();
        assertThat(rules.apply(call(question, prose + "Kurz gesagt:\n" + table + yaml + list + "Viel Erfolg!")))
                .as("all three").isEmpty();
        // English prose around them is still English.
        assertThat(rules.apply(call(question, ENGLISH_ANSWER + "\n" + table))).as("English prose")
                .singleElement().satisfies(f -> assertThat(f.evidence()).containsEntry("answer_language", "en"));
    }

    @Test
    void anUnsupportedLanguageFailsTheStartNamingTheSupportedOnes() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new LanguageIdentifier(List.of("en", "tlh")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tlh").hasMessageContaining("ja");
    }
}
