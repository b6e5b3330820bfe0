package io.faultline.content;

import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator.ReplaceUnderscores;
import org.junit.jupiter.api.Test;

import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The hand-written scans that replaced backtracking patterns do what the patterns did: each is compared with its
 * pattern on thousands of short seeded texts built from the characters the pattern pivots on (short, so that the
 * pattern's own quadratic cost does not matter here).
 */
@DisplayNameGeneration(ReplaceUnderscores.class)
class LinearScansTest {

    private static final String ALPHABET = "aZ9_ .@-\n\t`:/hwtps`@..\u00e9\u0663#[]{}<>|";

    private static String random(Random random, String alphabet, int maxLength) {
        int length = random.nextInt(maxLength + 1);
        StringBuilder out = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            out.append(alphabet.charAt(random.nextInt(alphabet.length())));
        }
        return out.toString();
    }

    private static String someText(Random random, int i) {
        // Now and then a real-looking fragment, so that every branch of each pattern matches sometimes.
        String[] fragments = {"https://x.io/a", "www.a.de", "ann@mail.example.com", "a@b.c", "```js\nx\n```", "`q`",
            "x@y@z.io", "http:// ", "a.b@c.d.e-f"};
        String text = random(random, ALPHABET, 24);
        return i % 3 == 0 ? text + fragments[random.nextInt(fragments.length)] + random(random, ALPHABET, 8) : text;
    }

    @Test
    void prose_removes_what_the_five_patterns_removed() {
        Pattern fenced = Pattern.compile("```.*?(```|\\z)", Pattern.DOTALL);
        Pattern inline = Pattern.compile("`[^`\\n]*`");
        Pattern url = Pattern.compile("\\b(?:https?://|www\\.)\\S+");
        Pattern email = Pattern.compile("[^\\s@]+@[^\\s@]+\\.\\w+");
        Pattern nonLetters = Pattern.compile("[\\p{N}_#*>|=~^\\[\\]{}()<>\\\\/]+");
        Random random = new Random(7);
        for (int i = 0; i < 20_000; i++) {
            String text = someText(random, i);
            assertThat(LanguageIdentifier.withoutFencedCode(text)).as(text)
                    .isEqualTo(fenced.matcher(text).replaceAll(" "));
            assertThat(LanguageIdentifier.withoutInlineCode(text)).as(text)
                    .isEqualTo(inline.matcher(text).replaceAll(" "));
            assertThat(LanguageIdentifier.withoutEmails(text)).as(text).isEqualTo(email.matcher(text).replaceAll(" "));
            assertThat(LanguageIdentifier.withoutNonLetters(text)).as(text)
                    .isEqualTo(nonLetters.matcher(text).replaceAll(" "));
            if (text.chars().allMatch(c -> c < 128)) {
                // \b of java.util.regex 17 also counts non-ASCII letters as word characters; the scan counts ASCII.
                assertThat(LanguageIdentifier.withoutUrls(text)).as(text).isEqualTo(url.matcher(text).replaceAll(" "));
            }
        }
    }

    @Test
    void markdown_links_are_removed_as_their_pattern_removes_them() {
        Pattern link = Pattern.compile("\\[[^\\[\\]\\n]*\\]\\([^)\\s]*\\)?");
        Random random = new Random(11);
        for (int i = 0; i < 20_000; i++) {
            String text = random(random, "a [](). \n\th:/", 24)
                    + (i % 3 == 0 ? "[Title of it](https://x.io/a)" + random(random, "a [](). \n", 8) : "");
            assertThat(LanguageIdentifier.withoutLinks(text)).as(text).isEqualTo(link.matcher(text).replaceAll(" "));
        }
    }

    @Test
    void a_code_fence_is_found_as_the_pattern_found_it() {
        Pattern fence = Pattern.compile("\\A\\s*```[a-zA-Z]*\\s*\\n(.*?)\\n?```\\s*\\z", Pattern.DOTALL);
        Random random = new Random(11);
        String[] shapes = {"```json\n{\"a\":1}\n```", " \n```\n[]```\n ", "```\n```", "```js \n \nx\n\n```\t",
            "```\n", "x```\n```", "```json{}```", "```\n\n```"};
        for (int i = 0; i < 20_000; i++) {
            String text = i < shapes.length ? shapes[i]
                    : random(random, " \n\t`ajs{}x", 3) + "```" + random(random, "aj \n\t", 4)
                            + random(random, "{}\n`x ", 12) + random(random, "`\n \t", 6);
            Matcher m = fence.matcher(text);
            String expected = m.matches() ? m.group(1) : null;
            assertThat(StructuredOutputValidator.unfenced(text)).as("[" + text + "]").isEqualTo(expected);
        }
    }
}
