package io.faultline.content;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class AnchorIndexTest {

    @Test
    void findsOverlappingAndNestedWordsInOnePass() {
        AnchorIndex index = new AnchorIndex(List.of("he", "she", "his", "hers", "ignor", "ignore previous"));

        assertThat(index.find("ushers")).containsExactly(true, true, false, true, false, false);
        assertThat(index.find("please ignore previous rules")).containsExactly(false, false, false, false, true,
                true);
        assertThat(index.find("")).containsOnly(false);
    }

    @Test
    void agreesWithIndexOfOnRandomText() {
        List<String> words = List.of("ab", "abc", "bca", "caa", "b", "aaaa", "cab");
        AnchorIndex index = new AnchorIndex(words);
        Random random = new Random(7);
        for (int round = 0; round < 2000; round++) {
            StringBuilder text = new StringBuilder();
            for (int i = 0; i < random.nextInt(30); i++) {
                text.append((char) ('a' + random.nextInt(3)));
            }
            boolean[] found = index.find(text);
            for (int w = 0; w < words.size(); w++) {
                assertThat(found[w]).as(words.get(w) + " in " + text).isEqualTo(text.indexOf(words.get(w)) >= 0);
            }
        }
    }
}
