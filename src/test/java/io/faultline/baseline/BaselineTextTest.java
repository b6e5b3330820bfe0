package io.faultline.baseline;

import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The text a baseline run stores about its errors comes from the network: printable, short and masked. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class BaselineTextTest {

    @Test
    void keys_addresses_and_organisation_ids_in_an_error_message_are_masked_before_they_are_stored() {
        String text = BaselineProfiler.shortText(
                "Incorrect API key provided: sk-proj-AbCdEfGh12345678 for org-AbCdEfGh1234 (ops@example.com)");

        assertThat(text).doesNotContain("AbCdEfGh", "ops@example.com")
                .contains("[secret]", "org-[masked]", "[email]");
    }

    @Test
    void control_characters_nul_and_non_ascii_become_question_marks_and_the_text_is_cut_to_100() {
        String text = BaselineProfiler.shortText("line\nbreak\u0000nul \uD800 é " + "x".repeat(65_536));

        assertThat(text).startsWith("line?break?nul ? ? xxx").hasSizeLessThanOrEqualTo(101)
                .matches("[\\x20-\\x7e]*…");
        assertThat(BaselineProfiler.shortText(null)).isEmpty();
        assertThat(BaselineProfiler.shortText("Connection refused")).isEqualTo("Connection refused");
    }

    @Test
    void a_key_that_crosses_the_cut_is_masked_not_stored_in_part() {
        String text = BaselineProfiler.shortText("y".repeat(90) + " sk-ant-" + "k".repeat(40));

        assertThat(text).doesNotContain("kkkk").contains("[secret]");
    }
}
