package io.faultline.common;

import io.faultline.testing.HostileText;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator.ReplaceUnderscores;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/** The redactor cuts before it masks, and still masks what crosses the cut. */
@DisplayNameGeneration(ReplaceUnderscores.class)
class RedactorTest {

    @Test
    void secrets_and_addresses_are_masked_and_the_text_cut() {
        String masked = Redactor.mask("key sk-proj-abcdefgh12345678 from ann@example.com at 10.1.2.3, card "
                + "4111 1111 1111 1111", 200);
        assertThat(masked).isEqualTo("key [secret] from [email] at [ip], card [number]");
        assertThat(Redactor.mask("x".repeat(50), 40)).isEqualTo("x".repeat(40) + "…");
    }

    @Test
    void the_secrets_and_numbers_the_pii_detector_knows_are_masked_in_stored_text_too() {
        // Error messages and requester metadata are stored after this mask; each of these once survived it raw.
        String[] raw = {"AKIAIOSFODNN7EXAMPLE",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36P",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "github_pat_11ABCDEFG0abcdefghijklmnopqrstuv",
            "sk_live_51H8abcdefghijklmnopqrstu", "xoxb-123456789012-abcdefghijklmnop",
            "glpat-abcdefghijklmnopqrst", "hf_abcdefghijklmnopqrstuvwxyzABCDEF", "DE89370400440532013000",
            "GB29NWBK60161331926819", "(415) 555-2671", "415.555.2671", "4111  1111  1111  1111",
            "4111.1111.1111.1111", "card4111111111111111",
            "\uFF14\uFF11\uFF11\uFF11\uFF11\uFF11\uFF11\uFF11\uFF11\uFF11\uFF11\uFF11",
            "4111\u00001111\u00001111\u00001111", "4111\u200B1111\u200B1111\u200B1111",
            "4111\ud8001111\udc001111\ud8001111", "jane.doe\uFF20example.com"};
        for (String value : raw) {
            String masked = Redactor.mask("refused: " + value + " (see docs)", 300);
            assertThat(masked).as(value).matches("refused: [a-z]*\\[(secret|email|iban|number)] \\(see docs\\)");
        }
        assertThat(Redactor.mask("iban DE89 3704 0044 0532 0130 00 ok", 300)).isEqualTo("iban [iban] ok");
        // What is not personal stays readable: versions, dates, short counts and ids.
        String plain = "litellm 1.108.5: 429 after 3 retries, reset 2026-12-06T20:21:35Z, model gpt-4o-mini";
        assertThat(Redactor.mask(plain, 300)).isEqualTo(plain);
    }

    @Test
    void a_model_name_keeps_its_version_and_release_date_and_loses_a_number_written_into_it() {
        // Refused calls carry the model name the caller asked for; dated snapshots are no phone numbers.
        for (String model : new String[] {"claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805", "o1-2024-12-17",
            "gpt-4.1-2025-04-14", "gpt-4o-2024-08-06", "gemini-2.0-flash-001", "openai/gpt-4.1-mini-2025-04-14"}) {
            assertThat(Redactor.maskModelName(model, 200)).as(model).isEqualTo(model);
        }
        assertThat(Redactor.mask("claude-sonnet-4-5-20250929", 200)).isEqualTo("claude-sonnet-[number]");
        // Nine digits or more besides the date, or no date at all: a number, masked as in any text.
        assertThat(Redactor.maskModelName("gpt-4o for +1 (415) 555-2671", 200)).isEqualTo("gpt-4o for [number]");
        assertThat(Redactor.maskModelName("model-4111-1111-1111-1111", 200)).isEqualTo("model-[number]");
        assertThat(Redactor.maskModelName("m-4111111111-20250929", 200)).isEqualTo("m-[number]");
        assertThat(Redactor.maskModelName("m-415-555-2671-2025-13-40", 200)).isEqualTo("m-[number]");
        assertThat(Redactor.maskModelName("ann@example.com-20250929", 200)).isEqualTo("[email]-20250929");
        assertThat(Redactor.maskModelName(null, 200)).isNull();
    }

    @Test
    void a_secret_or_an_address_that_crosses_the_cut_is_masked_before_it_is_cut() {
        String key = "sk-proj-" + "Ab3".repeat(100);
        assertThat(Redactor.mask("x".repeat(35) + " " + key, 40)).isEqualTo("x".repeat(35) + " [sec…");
        assertThat(Redactor.mask("x".repeat(30) + " someone.long@example.com", 40))
                .isEqualTo("x".repeat(30) + " [email]…");
    }

    @Test
    void what_is_masked_is_storable_nul_and_lone_surrogates_become_replacement_characters() {
        assertThat(Redactor.mask("run\u0000failed \ud800 at \udc00 ok \ud83d\ude00", 200))
                .isEqualTo("run\uFFFDfailed \uFFFD at \uFFFD ok \ud83d\ude00");
        // A cut that splits a surrogate pair leaves no lone half behind.
        assertThat(Redactor.mask("x".repeat(39) + "\ud83d\ude00" + "y".repeat(10), 40))
                .isEqualTo("x".repeat(39) + "\uFFFD…");
        String clean = "nothing to replace";
        assertThat(Redactor.mask(clean, 200)).isSameAs(clean);
    }

    @Test
    void a_20000_character_token_in_a_numeric_field_is_masked_within_the_ceiling() {
        // Once 61 s: the e-mail pattern ran on the whole text before it was cut to 40 characters.
        String masked = assertTimeoutPreemptively(Duration.ofSeconds(2), () -> Redactor.mask("a".repeat(20_000), 40));
        assertThat(masked).isEqualTo("a".repeat(40) + "…");
        HostileText.all(64 * 1024).forEach((name, text) -> assertThat(assertTimeoutPreemptively(Duration.ofSeconds(2),
                () -> Redactor.mask(text, 300))).as(name).hasSizeLessThanOrEqualTo(301));
    }
}
