package io.faultline.content;

import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class FunctionWordsTest {

    private final FunctionWords words = new FunctionWords(List.of("en", "de", "fr", "es", "it", "pt", "nl"));

    @Test
    void function_words_are_found_whatever_their_case_and_script_of_their_accents() {
        assertThat(words.dominant("THE answer IS in the text, and IT is what YOU asked for.", 3)).isEqualTo("en");
        assertThat(words.dominant("Das ist NICHT für dich, und es wird auch so bleiben.", 3)).isEqualTo("de");
        // "está", "más": accented words of the list are matched by their letters, not only by ASCII
        assertThat(words.dominant("Usted ESTÁ en la casa y es lo que hay, pero MÁS no se puede.", 3)).isEqualTo("es");
        assertThat(words.dominant("Il NE FAUT PAS que vous soyez dans la maison pour le moment, et ce sont les "
                + "règles.", 3)).isEqualTo("fr");
    }

    @Test
    void words_that_only_contain_a_function_word_do_not_count_but_are_counted_as_words() {
        // "thereof", "andiron", "theater": prefixes of list words are not the words themselves
        assertThat(words.dominant("thereof andiron theater", 1)).isNull();
        // a run of 40 letters counts as one word, no function word: 3 hits of 16 words fall under a fifth
        String long40 = "a".repeat(40);
        assertThat(words.dominant("the and of " + (long40 + " ").repeat(13), 3)).isNull();
        assertThat(words.dominant("the and of " + (long40 + " ").repeat(11), 3)).isEqualTo("en");
    }

    @Test
    void mixed_or_unknown_text_has_no_dominant_language() {
        assertThat(words.dominant("the der the der le le", 2)).isNull();
        assertThat(words.dominant("東京は日本の首都です", 1)).isNull();
        assertThat(words.dominant("", 1)).isNull();
    }
}
