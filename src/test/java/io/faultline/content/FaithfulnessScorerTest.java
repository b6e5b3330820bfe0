package io.faultline.content;

import com.fasterxml.jackson.databind.node.ArrayNode;
import io.faultline.call.CallMapper;
import io.faultline.call.LlmCall;
import io.faultline.classify.ClassifyConfig;
import io.faultline.classify.SeverityPolicy;
import io.faultline.content.FaithfulnessScorer.Outcome;
import io.faultline.content.FaithfulnessScorer.Verdict;
import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.QualityFailure.Type;
import io.faultline.taxonomy.Severity;
import io.faultline.testing.ConfigMappings;
import io.faultline.testing.Payloads;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class FaithfulnessScorerTest {

    private static final Instant AT = Instant.parse("2026-11-28T10:00:00Z");
    private static final String BACON = "Henry Bacon (November 28, 1866 - February 16, 1924) was an American "
            + "Beaux-Arts architect who is best remembered for the Lincoln Memorial in Washington, D.C., which was his "
            + "final project. The memorial was dedicated in 1922 and honours the 16th President, Abraham Lincoln.";
    private static final String QUESTION = "Who designed the Lincoln Memorial?";

    private final FaithfulnessScorer scorer = new FaithfulnessScorer(ConfigMappings.defaults(FaithfulnessConfig.class));

    @Test
    void an_answer_drawn_from_the_context_is_supported() {
        Verdict verdict = scorer.score("The Lincoln Memorial was designed by the American architect Henry Bacon, "
                + "and it was dedicated in 1922.", QUESTION, List.of(BACON));

        assertThat(verdict.outcome()).isEqualTo(Outcome.JUDGED);
        assertThat(verdict.unsupported()).isZero();
        assertThat(verdict.support()).isEqualTo(1.0);
        assertThat(verdict.claims()).isEqualTo(1);
        assertThat(verdict.unfaithful()).isFalse();
    }

    @Test
    void morphological_variants_of_grounded_words_count_as_supported() {
        Verdict verdict = scorer.score("Bacon's final projects honoured Lincoln.", QUESTION, List.of(BACON));

        assertThat(verdict.unsupported()).isZero();
    }

    @Test
    void an_invented_name_is_a_hallucination_and_named_in_the_evidence() {
        Verdict verdict = scorer.score("The Lincoln Memorial was designed by Frank Lloyd Wright.", QUESTION,
                List.of(BACON));

        assertThat(verdict.hallucination()).isTrue();
        assertThat(verdict.unsupportedEntities()).isEqualTo(3);
        assertThat(verdict.unsupportedExamples()).containsExactly("Frank", "Lloyd", "Wright");
    }

    @Test
    void an_invented_number_lowers_support() {
        Verdict verdict = scorer.score("Bacon worked on 40 projects.", QUESTION, List.of(BACON));

        assertThat(verdict.unsupportedExamples()).contains("40");
        assertThat(verdict.support()).isLessThan(0.8);
        assertThat(verdict.unfaithful()).isTrue();
    }

    @Test
    void a_year_the_context_states_differently_is_contradicted() {
        Verdict verdict = scorer.score("The Lincoln Memorial was dedicated in 1932.", QUESTION, List.of(BACON));

        assertThat(verdict.contradicted()).isEqualTo(1);
        assertThat(verdict.unsupportedExamples()).containsExactly("1932");
        assertThat(verdict.hallucination()).isTrue();
    }

    @Test
    void a_year_without_any_year_in_the_context_is_unsupported_but_not_contradicted() {
        Verdict verdict = scorer.score("Paris hosted it in 1932.", "Where was it held?",
                List.of("The games were held in Paris."));

        assertThat(verdict.contradicted()).isZero();
        assertThat(verdict.unsupportedEntities()).isEqualTo(1);
    }

    @Test
    void restating_the_question_is_not_penalised() {
        Verdict verdict = scorer.score("The Volvo XC90 towing capacity is 2,700 kg.",
                "What is the towing capacity of the Volvo XC90?", List.of("Braked trailers up to 2700 kg."));

        assertThat(verdict.unsupported()).isZero();
        assertThat(verdict.unfaithful()).isFalse();
    }

    @Test
    void no_context_means_no_verdict() {
        assertThat(scorer.score("Frank Lloyd Wright designed it in 1901.", QUESTION, List.of()).outcome())
                .isEqualTo(Outcome.NO_GROUNDING);
        assertThat(scorer.score("Frank Lloyd Wright designed it in 1901.", QUESTION, List.of("  ")).outcome())
                .isEqualTo(Outcome.NO_GROUNDING);
    }

    @Test
    void refusals_and_answers_without_content_units_are_skipped() {
        assertThat(scorer.score("I don't know who designed it; the provided context does not say.", QUESTION,
                List.of(BACON)).outcome()).isEqualTo(Outcome.REFUSAL);
        assertThat(scorer.score("The context does not mention Frank Lloyd Wright.", QUESTION, List.of(BACON))
                .outcome()).isEqualTo(Outcome.REFUSAL);
        assertThat(scorer.score("Yes.", QUESTION, List.of(BACON)).outcome()).isEqualTo(Outcome.TOO_FEW_UNITS);
        assertThat(scorer.score("", QUESTION, List.of(BACON)).outcome()).isEqualTo(Outcome.NO_ANSWER);
    }

    @Test
    void a_claim_about_what_the_album_does_not_include_is_still_judged() {
        Verdict verdict = scorer.score("The album does not include bonus tracks.", "What is on the album?",
                List.of("The album has ten songs."));

        assertThat(verdict.outcome()).isEqualTo(Outcome.JUDGED);
        assertThat(verdict.unfaithful()).isTrue();
    }

    @Test
    void grounding_is_found_in_tags() {
        List<String> documents = GroundingFinder.find(List.of(
                new CallContent.Message("system", "Answer from <documents><document id=\"1\">Doc one.</document>"
                        + "<document id=\"2\">Doc two.</document></documents> only."),
                new CallContent.Message("user", "<CONTEXT>\nThe memorial opened in 1922.\n</CONTEXT>\nWhen?"),
                new CallContent.Message("assistant", "<context>not grounding</context>")));

        assertThat(documents).hasSize(2);
        assertThat(documents.get(0)).contains("Doc one.").contains("Doc two.");
        assertThat(documents.get(1)).isEqualTo("The memorial opened in 1922.");
    }

    @Test
    void grounding_is_found_under_a_heading_up_to_the_question() {
        List<String> documents = GroundingFinder.find(List.of(new CallContent.Message("user",
                "Use only these.\n## Sources:\nBacon designed it.\nIt opened in 1922.\n\nQuestion: who designed it?\n"
                        + "**Knowledge:** Lincoln was the 16th president.")));

        assertThat(documents).containsExactly("Bacon designed it.\nIt opened in 1922.",
                "Lincoln was the 16th president.");
        assertThat(GroundingFinder.find(List.of(new CallContent.Message("user", "What is the context: why?"))))
                .isEmpty();
    }

    @Test
    void the_rule_reads_grounding_from_metadata_and_flags_an_invented_answer() {
        LlmCall call = call(Payloads.success("openai", "gpt-4o", "dep-x", AT)
                .answer("The Lincoln Memorial was designed by Frank Lloyd Wright in 1932.", "stop")
                .metadata(Map.of("documents", List.of(BACON))), QUESTION, null);

        List<Failure> failures = rules(Map.of()).apply(call);

        assertThat(failures).hasSize(1);
        Failure failure = failures.get(0);
        assertThat(failure.type()).isEqualTo(Type.HALLUCINATION);
        assertThat(failure.severity()).isEqualTo(Severity.P3);
        assertThat(failure.detectionMethod()).isEqualTo("content.faithfulness.lexical");
        assertThat(failure.evidence()).containsEntry("contradicted_units", 1).containsEntry("claims_judged", 1)
                .containsEntry("unsupported_units", 4).containsEntry("threshold", 0.5)
                .containsEntry("unsupported_at", List.of(Map.of("kind", "name", "offset", 37, "chars", 5),
                        Map.of("kind", "name", "offset", 43, "chars", 5),
                        Map.of("kind", "name", "offset", 49, "chars", 6)));
        // Positions, never the answer's words.
        assertThat(failure.evidence().toString()).doesNotContain("Frank", "Lloyd", "Wright", "1932");
        assertThat((double) failure.evidence().get("support_score")).isLessThan(0.5);
    }

    @Test
    void the_rule_reads_grounding_from_a_context_heading_in_the_system_message() {
        LlmCall call = call(Payloads.success("openai", "gpt-4o", "dep-x", AT)
                .answer("Bacon designed the Lincoln Memorial, a beloved landmark visited yearly.", "stop"),
                QUESTION, "You answer from the context.\nContext:\n" + BACON);

        List<Failure> failures = rules(Map.of()).apply(call);

        assertThat(failures).singleElement().satisfies(failure -> {
            assertThat(failure.type()).isEqualTo(Type.LOW_FAITHFULNESS);
            assertThat(failure.severity()).isEqualTo(Severity.P4);
            assertThat(failure.evidence()).containsEntry("threshold", 0.8).containsEntry("unsupported_units", 4);
        });
    }

    @Test
    void a_grounded_answer_and_an_ungrounded_call_raise_nothing() {
        LlmCall grounded = call(Payloads.success("openai", "gpt-4o", "dep-x", AT)
                .answer("Henry Bacon designed it.", "stop"), "<context>" + BACON + "</context>\n" + QUESTION, null);
        LlmCall ungrounded = call(Payloads.success("openai", "gpt-4o", "dep-x", AT)
                .answer("Frank Lloyd Wright designed it in 1901.", "stop"), QUESTION, null);

        assertThat(rules(Map.of()).apply(grounded)).isEmpty();
        assertThat(rules(Map.of()).apply(ungrounded)).isEmpty();
    }

    @Test
    void each_type_can_be_switched_off() {
        LlmCall call = call(Payloads.success("openai", "gpt-4o", "dep-x", AT)
                .answer("The Lincoln Memorial was designed by Frank Lloyd Wright in 1932.", "stop")
                .metadata(Map.of("context", BACON)), QUESTION, null);

        assertThat(rules(Map.of("faultline.content.disabled-types", "hallucination")).apply(call))
                .singleElement().extracting(Failure::type).isEqualTo(Type.LOW_FAITHFULNESS);
        assertThat(rules(Map.of("faultline.content.disabled-types", "hallucination,low_faithfulness")).apply(call))
                .isEmpty();
        assertThat(rules(Map.of("faultline.content.disabled-types", "low_faithfulness")).apply(call))
                .singleElement().extracting(Failure::type).isEqualTo(Type.HALLUCINATION);
    }

    @Test
    void thresholds_come_from_config() {
        FaithfulnessScorer strict = new FaithfulnessScorer(ConfigMappings.with(FaithfulnessConfig.class,
                Map.of("faultline.faithfulness.low-faithfulness-threshold", "0.99")));
        String answer = "Bacon designed the Lincoln Memorial, a landmark.";

        assertThat(scorer.score(answer, QUESTION, List.of(BACON)).lowFaithfulness()).isFalse();
        assertThat(strict.score(answer, QUESTION, List.of(BACON)).lowFaithfulness()).isTrue();
    }

    private static LlmCall call(Payloads payload, String user, String system) {
        ArrayNode messages = payload.node().putArray("messages");
        if (system != null) {
            messages.addObject().put("role", "system").put("content", system);
        }
        messages.addObject().put("role", "user").put("content", user);
        return new CallMapper(Payloads.JSON, ConfigMappings.defaults(ContentConfig.class)).map(payload.node());
    }

    private static FaithfulnessRules rules(Map<String, String> contentProperties) {
        Map<String, String> severities = new HashMap<>();
        severities.put("faultline.classify.base-severity.low_faithfulness", "P4");
        severities.put("faultline.classify.base-severity.hallucination", "P3");
        // Outside Quarkus there is no "1h" shorthand converter: ISO-8601 for the durations this test does not use.
        severities.put("faultline.classify.timeout", "PT60S");
        severities.put("faultline.classify.deployment-activity-window", "PT1H");
        return new FaithfulnessRules(ConfigMappings.with(ContentConfig.class, contentProperties),
                ConfigMappings.defaults(FaithfulnessConfig.class),
                new SeverityPolicy(ConfigMappings.with(ClassifyConfig.class, severities)));
    }

    private static final String SALES = "The shop sold 1,240 bicycles in June and 1,860 in July. A city bike costs 12 "
            + "euros a day and an e-bike 30 euros a day. The shop has two locations, on Pier Street and at the station.";

    @Test
    void a_grounded_number_rewritten_or_rounded_is_supported() {
        String report = "Revenue in March was $1,200.00. The margin grew 12.34% to 3.50 euros a unit.";

        Verdict verdict = scorer.score("Revenue in March was $1,200, and the margin grew about 12.3% to 3.5 euros "
                + "a unit.", "How was March?", List.of(report));
        Verdict whole = scorer.score("The margin grew 12%.", "How was March?", List.of(report));

        // Before, each of these read as a number the grounding contradicts: 3.5 against 3.50 was a hallucination.
        assertThat(verdict.unsupportedEntities()).isZero();
        assertThat(verdict.contradicted()).isZero();
        assertThat(verdict.unfaithful()).isFalse();
        assertThat(whole.contradicted()).isZero();
        assertThat(whole.unfaithful()).isFalse();
        // Rounded the wrong way, a number is still contradicted.
        Verdict wrong = scorer.score("The margin grew 13%.", "How was March?", List.of(report));
        assertThat(wrong.contradicted()).isEqualTo(1);
        assertThat(wrong.hallucination()).isTrue();
    }

    @Test
    void a_grounded_amount_written_with_a_magnitude_is_supported() {
        String results = "Fabrikam reported revenue of $1,234,000 in 2023 and 48,000 customers. Its loan was "
                + "$2.5 billion.";

        Verdict verdict = scorer.score("Fabrikam's revenue was about $1.2 million in 2023, with 48k customers, and "
                + "its loan was $2,500,000,000.", "How did Fabrikam do?", List.of(results));
        Verdict suffixed = scorer.score("Fabrikam reported revenue of $1.23M in 2023.", "How did Fabrikam do?",
                List.of(results));

        // Before, "1.2 million" was 1.2 and an unsupported word, "48k" and "1.23M" codes no grounded number matched.
        assertThat(verdict.unsupported()).isZero();
        assertThat(verdict.contradicted()).isZero();
        assertThat(verdict.unfaithful()).isFalse();
        assertThat(suffixed.unsupported()).isZero();
        assertThat(suffixed.unfaithful()).isFalse();
        // A unit letter after a space is no magnitude: 2 m is two metres, not two million.
        assertThat(scorer.score("The cable is 2 m long.", "How long?", List.of("The cable is 2 metres long."))
                .unsupported()).isZero();
        Verdict wrong = scorer.score("Fabrikam reported revenue of $3.4 million in 2023.", "How did Fabrikam do?",
                List.of(results));
        assertThat(wrong.contradicted()).isEqualTo(1);
        assertThat(wrong.hallucination()).isTrue();
    }

    @Test
    void the_language_tag_of_a_code_fence_is_no_claim() {
        String docs = "Create the billing client with Client(api_key). Call client.create_invoice(amount, currency) "
                + "to create an invoice; it returns an Invoice whose id identifies it.";

        Verdict verdict = scorer.score("```python\nclient = Client(api_key)\n"
                + "invoice = client.create_invoice(amount, currency)\nprint(invoice.id)\n```",
                "How do I create an invoice?", List.of(docs));

        // Before, "python" was a claim of its own, and unsupported: the grounded code was low_faithfulness.
        assertThat(verdict.unsupported()).as(verdict.unsupportedExamples().toString()).isEqualTo(1);
        assertThat(verdict.unsupportedClaims()).isZero();
        assertThat(verdict.unfaithful()).isFalse();
    }

    @Test
    void a_grounded_date_written_with_a_month_number_is_supported() {
        String contract = "The contract was signed on March 15, 2024 and runs until 30 September 2026.";

        for (String answer : List.of("The contract was signed on 2024-03-15 and runs until 2026-09-30.",
                "The contract was signed on 03/15/2024 and runs until 09/30/2026.",
                "The contract was signed on 15.03.2024 and runs until 30.09.2026.")) {
            Verdict verdict = scorer.score(answer, "When was it signed?", List.of(contract));
            // Before, the month ("03", "09") was a number the grounding contradicts, and the answer a hallucination.
            assertThat(verdict.contradicted()).as(answer).isZero();
            assertThat(verdict.unfaithful()).as(answer).isFalse();
        }
        // Another month is still contradicted, and a month's number outside a date is no date.
        assertThat(scorer.score("The contract was signed on 2024-04-15.", "When was it signed?", List.of(contract))
                .hallucination()).isTrue();
        assertThat(scorer.score("The contract has 3 parties.", "How many parties?", List.of(contract))
                .contradicted()).isEqualTo(1);
        // Number-like tokens beside a named month are read, never parsed blindly.
        assertThat(scorer.score("Signed 3k/2 times, 1,5.03.2024 and 15.03.24ab or 4-3a.", "When?", List.of(contract))
                .judged()).isTrue();
    }

    @Test
    void numbers_computed_from_grounded_numbers_are_supported() {
        Verdict verdict = scorer.score("Sales rose by 620 bicycles, or 50%, to 3,100 over both months. An e-bike "
                + "costs 18 euros more, 2.5 times the city price.", "How did sales develop?", List.of(SALES));

        // Every number is derived (620, 50, 3,100, 18, 2.5); only connecting words ("rose", "times") are not grounded.
        assertThat(verdict.derivedNumbers()).isEqualTo(5);
        assertThat(verdict.unsupportedEntities()).isZero();
        assertThat(verdict.contradicted()).isZero();
        assertThat(verdict.hallucination()).isFalse();
    }

    @Test
    void a_number_no_pair_of_grounded_numbers_gives_is_still_contradicted() {
        Verdict verdict = scorer.score("Sales rose by 745 bicycles.", "How did sales develop?", List.of(SALES));

        assertThat(verdict.derivedNumbers()).isZero();
        assertThat(verdict.contradicted()).isEqualTo(1);
        assertThat(verdict.hallucination()).isTrue();
    }

    @Test
    void a_year_is_derived_only_as_a_year_plus_or_minus_a_grounded_number() {
        String bridge = "The bridge was completed in 2009 after 6 years of construction.";

        assertThat(scorer.score("Construction started in 2003.", "When?", List.of(bridge)).derivedNumbers())
                .isEqualTo(1);
        assertThat(scorer.score("Construction started in 2005.", "When?", List.of(bridge)).hallucination()).isTrue();
    }

    @Test
    void an_abstention_saying_the_grounding_lacks_the_answer_is_faithful_in_english_and_german() {
        for (String answer : List.of("The provided context doesn't mention who founded the shop.",
                "There is no information about the founder in the passage.",
                "The text makes no mention of a founder.",
                "Who founded it is not stated in the documents.",
                "The founder cannot be determined from the context.",
                "Der Kontext enthält keine Angaben zum Gründer.",
                "Wer den Laden gegründet hat, geht aus dem Text nicht hervor.",
                "Dazu lässt sich aus den Unterlagen nichts entnehmen, der Gründer ist nicht genannt.")) {
            assertThat(scorer.score(answer, "Who founded the shop?", List.of(SALES)).outcome()).as(answer)
                    .isEqualTo(Outcome.REFUSAL);
        }
    }

    @Test
    void abstentions_with_contractions_first_person_and_in_five_more_languages_are_faithful() {
        for (String answer : List.of("The answer is not in the provided context.",
                "That information isn't available in the documents provided.",
                "This isn't mentioned in the passage.",
                "I don't have enough information to answer that.",
                "I don't have information about the founder.",
                "Unfortunately, I do not have any details on who founded it.",
                "None of the documents mention a founder.",
                "Nothing in the context indicates who founded the shop.",
                "It is not possible to determine the founder from the context.",
                "Based on the context, there is no data for the founder.",
                "Le contexte ne mentionne pas le fondateur de la boutique.",
                "Cette information n'est pas mentionnée dans les documents.",
                "El contexto no menciona quién fundó la tienda.",
                "No hay información sobre el fundador en los documentos.",
                "Il contesto non menziona il fondatore del negozio.",
                "Non ci sono informazioni sul fondatore nel testo.",
                "O contexto não menciona o fundador da loja.",
                "Não há informações sobre o fundador nos documentos.",
                "De context vermeldt niet wie de winkel heeft opgericht.",
                "Er is geen informatie over de oprichter in de documenten.")) {
            assertThat(scorer.score(answer, "Who founded the shop?", List.of(SALES)).outcome()).as(answer)
                    .isEqualTo(Outcome.REFUSAL);
        }
        // A negation that makes a claim is still judged.
        for (String answer : List.of("The shop was not founded by Martin Delacroix; Claire Dubois founded it in Lyon.",
                "No, it was founded in 1987 by Claire Dubois.")) {
            assertThat(scorer.score(answer, "Who founded the shop?", List.of(SALES)).hallucination()).as(answer)
                    .isTrue();
        }
    }

    @Test
    void an_answer_in_another_language_than_its_grounding_gets_no_lexical_verdict() {
        // Cross-lingual RAG: English documents, the answer in the user's language. Words cannot meet across
        // languages, so the lexical check would type every such answer a hallucination.
        String german = "Der Laden hat im Juni 1.240 Fahrräder verkauft und im Juli 1.860. Ein Stadtrad kostet 12 Euro "
                + "am Tag, und das E-Bike kostet 30 Euro am Tag.";
        String japanese = "この店は6月に自転車を1,240台、7月に1,860台販売しました。シティバイクは1日12ユーロです。";
        String germanSales = "Der Laden verkaufte im Juni 1.240 Fahrräder und im Juli 1.860. Ein Stadtrad kostet 12 "
                + "Euro am Tag und ein E-Bike 30 Euro am Tag. Der Laden hat zwei Standorte.";

        assertThat(scorer.score(german, "Wie liefen die Verkäufe?", List.of(SALES)).outcome())
                .isEqualTo(Outcome.OTHER_LANGUAGE);
        assertThat(scorer.score(japanese, "売上はどうでしたか？", List.of(SALES)).outcome())
                .isEqualTo(Outcome.OTHER_LANGUAGE);
        // A document in the answer's language among others, or grounding in the answer's language: judged.
        assertThat(scorer.score(german, "Wie liefen die Verkäufe?", List.of(SALES, germanSales)).outcome())
                .isEqualTo(Outcome.JUDGED);
        Verdict invented = scorer.score("Der Laden wurde von Martin Delacroix in Marseille gegründet, und er hat "
                + "drei Filialen in der Provence.", "Wer hat den Laden gegründet?", List.of(germanSales));
        assertThat(invented.outcome()).isEqualTo(Outcome.JUDGED);
        assertThat(invented.hallucination()).isTrue();
    }

    @Test
    void one_unsupported_claim_among_several_grounded_ones_is_low_faithfulness_not_hallucination() {
        Verdict partly = scorer.score("The shop sold 1,240 bicycles in June and 1,860 in July. A city bike costs 12 "
                + "euros a day and an e-bike 30 euros. It has locations on Pier Street and at the station. It was "
                + "founded by Martin Delacroix in Marseille.", "Tell me about the shop.", List.of(SALES));

        assertThat(partly.claims()).isEqualTo(4);
        assertThat(partly.unsupportedClaims()).isEqualTo(1);
        assertThat(partly.lowFaithfulness()).isTrue();
        assertThat(partly.hallucination()).isFalse();

        Verdict mostly = scorer.score("The shop sold 1,240 bicycles in June. It was founded by Martin Delacroix in "
                + "Marseille. Its owner Claire Dubois opened a third branch in Lyon.", "Tell me about the shop.",
                List.of(SALES));
        assertThat(mostly.unsupportedClaims()).isEqualTo(2);
        assertThat(mostly.hallucination()).isTrue();
    }

    @Test
    void a_one_sentence_answer_with_a_contradicted_year_and_invented_names_stays_a_hallucination() {
        // The end-to-end test's case: one claim, and it is unsupported.
        Verdict verdict = scorer.score("The Eiffel Tower was completed in 1925 and was designed by Thomas Edison for "
                + "the Chicago Exposition.", "When was the Eiffel Tower completed, and who designed it?",
                List.of("The Eiffel Tower was completed in 1889 for the World's Fair in Paris. It was designed by the "
                        + "engineering company of Gustave Eiffel."));

        assertThat(verdict.claims()).isEqualTo(1);
        assertThat(verdict.unsupportedClaims()).isEqualTo(1);
        assertThat(verdict.hallucination()).isTrue();
    }

    private static final String SHOP = "Orders ship within two business days from the warehouse in Leipzig. Returns "
            + "are accepted within 30 days of delivery if the item is unused. Refunds are issued to the original "
            + "payment method within 5 business days after the return arrives.";

    @Test
    void greetings_thanks_and_offers_of_more_help_are_not_claims() {
        // A support answer drawn from its context, opened and closed politely: before, two of its four sentences
        // were unsupported claims and the answer a hallucination.
        Verdict verdict = scorer.score("Thanks for reaching out. Orders ship within two business days, and you can "
                + "return an unused item within 30 days of delivery. Once the return arrives, the refund goes to "
                + "your original payment method within 5 business days. Let me know if there is anything else.",
                "When do I get my money back?", List.of(SHOP));

        assertThat(verdict.outcome()).isEqualTo(Outcome.JUDGED);
        assertThat(verdict.courtesySentences()).isEqualTo(2);
        assertThat(verdict.claims()).isEqualTo(2);
        assertThat(verdict.unsupportedClaims()).isZero();
        assertThat(verdict.unfaithful()).isFalse();
        // only a paraphrase's word ("goes", offset 161) is unsupported; nothing of the two courtesies
        assertThat(verdict.unsupportedAt()).extracting(FaithfulnessScorer.UnitPosition::offset).containsExactly(161);

        Verdict german = scorer.score("Vielen Dank für Ihre Anfrage! Orders ship within two business days. "
                + "Bei weiteren Fragen melden Sie sich gerne.", "When does my order ship?", List.of(SHOP));
        assertThat(german.courtesySentences()).isEqualTo(2);
        assertThat(german.unfaithful()).isFalse();
    }

    @Test
    void a_courtesy_with_a_fact_in_it_is_judged_and_politeness_does_not_hide_an_invented_answer() {
        // one word beyond the courtesies ("Hamburg", a name) makes the sentence a claim
        Verdict mixed = scorer.score("Thanks for reaching out, our warehouse in Hamburg ships everything. Orders ship "
                + "within two business days.", "Where do orders ship from?", List.of(SHOP));
        assertThat(mixed.courtesySentences()).isZero();
        assertThat(mixed.claims()).isEqualTo(2);
        assertThat(mixed.unsupportedEntities()).isEqualTo(1);

        Verdict invented = scorer.score("Thank you for your message. Refunds take 45 days and are paid in vouchers "
                + "from Amazon. Let me know if there is anything else.", "When do I get my money back?",
                List.of(SHOP));
        assertThat(invented.courtesySentences()).isEqualTo(2);
        assertThat(invented.claims()).isEqualTo(1);
        assertThat(invented.hallucination()).isTrue();
        // the evidence points at the invented claim's units, not at the courtesies around it
        assertThat(invented.unsupportedAt()).isNotEmpty()
                .allSatisfy(unit -> assertThat(unit.offset()).isBetween(28, 86));
    }
}
