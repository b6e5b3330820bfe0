package io.faultline.content;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The commonest function words of the languages the language check supports: a cheap test that a request and its
 * answer are clearly in the same language, so that the n-gram identifier only runs when they might not be. It never
 * decides that two texts differ; that is left to the identifier.
 */
public final class FunctionWords {

    private static final Map<String, String> LISTS = Map.of(
            "en", "the and of to is in that it you for with are this be on your can have was not will what how do",
            "de", "der die und das ist nicht ein eine zu mit sie ich es den auf für von dem sich wie wird auch werden"
                    + " kann sind bei",
            "fr", "le la les et est des une un du que pour dans pas vous sur avec ce qui il au sont ou mais votre nous",
            "es", "el la los las y es que en un una por para con no del se su lo como más pero usted está son",
            "it", "il la che e di è un una per non sono con del della gli le si come ma anche questo può lo",
            "pt", "o a os as e é que do da em um uma para com não no na se dos mais por você são seu",
            "nl", "de het een en van is dat niet op te voor met zijn je u wordt ook bij als aan kan er om naar");

    private final List<String> languages;
    /**
     * The words as an open-addressed table on {@link String#hashCode()} (computed while a word is read, so that
     * looking one up allocates nothing): the word and the languages it belongs to, per slot.
     */
    private final String[] slotWord;
    private final int[][] slotLanguages;
    private final int mask;
    private final int longest;

    public FunctionWords(List<String> languages) {
        this.languages = languages.stream().filter(LISTS::containsKey).toList();
        Map<String, int[]> languagesOfWord = new HashMap<>();
        for (int i = 0; i < this.languages.size(); i++) {
            for (String word : LISTS.get(this.languages.get(i)).split(" ")) {
                int[] previous = languagesOfWord.get(word);
                int[] next = previous == null ? new int[] { i } : append(previous, i);
                languagesOfWord.put(word, next);
            }
        }
        int slots = Integer.highestOneBit(Math.max(4, languagesOfWord.size()) * 4);
        slotWord = new String[slots];
        slotLanguages = new int[slots][];
        mask = slots - 1;
        int max = 0;
        for (Map.Entry<String, int[]> entry : languagesOfWord.entrySet()) {
            int slot = spread(entry.getKey().hashCode()) & mask;
            while (slotWord[slot] != null) {
                slot = (slot + 1) & mask;
            }
            slotWord[slot] = entry.getKey();
            slotLanguages[slot] = entry.getValue();
            max = Math.max(max, entry.getKey().length());
        }
        longest = max;
    }

    /** The languages of the word in {@code word[0, length)} (its {@code hash} as String's), or null. */
    private int[] languagesOf(char[] word, int length, int hash) {
        if (length > longest) {
            return null;
        }
        for (int slot = spread(hash) & mask; slotWord[slot] != null; slot = (slot + 1) & mask) {
            String candidate = slotWord[slot];
            if (candidate.length() == length && sameChars(candidate, word, length)) {
                return slotLanguages[slot];
            }
        }
        return null;
    }

    private static boolean sameChars(String candidate, char[] word, int length) {
        for (int i = 0; i < length; i++) {
            if (candidate.charAt(i) != word[i]) {
                return false;
            }
        }
        return true;
    }

    private static int spread(int hash) {
        return hash ^ (hash >>> 16);
    }

    /**
     * The language whose function words clearly dominate {@code text} (at least {@code minHits} of them, twice as
     * many as any other language's, and a fifth of all its words), or null.
     */
    public String dominant(String text, int minHits) {
        int[] hits = new int[languages.size()];
        int words = 0;
        // a word's first 16 letters, lower-cased, and their String hash; no function word is that long
        char[] word = new char[16];
        int length = 0;
        int hash = 0;
        for (int i = 0; i <= text.length(); i++) {
            char c = i < text.length() ? text.charAt(i) : ' ';
            if (c < 128 ? (c | 0x20) >= 'a' && (c | 0x20) <= 'z' : Character.isLetter(c)) {
                if (length < word.length) {
                    char lower = c < 128 ? (char) (c | 0x20) : Character.toLowerCase(c);
                    word[length++] = lower;
                    hash = 31 * hash + lower;
                }
                continue;
            }
            if (length > 0) {
                words++;
                int[] of = languagesOf(word, length, hash);
                if (of != null) {
                    for (int language : of) {
                        hits[language]++;
                    }
                }
                length = 0;
                hash = 0;
            }
        }
        int best = -1;
        int second = 0;
        for (int i = 0; i < hits.length; i++) {
            if (best < 0 || hits[i] > hits[best]) {
                if (best >= 0) {
                    second = Math.max(second, hits[best]);
                }
                best = i;
            } else {
                second = Math.max(second, hits[i]);
            }
        }
        // A fifth of all words: the commonest two dozen function words make a third or more of running prose in each
        // of these languages, so a text under a fifth is mixed or not prose, and the identifier should judge it.
        return best >= 0 && hits[best] >= minHits && hits[best] >= 2 * second && hits[best] * 5 >= words
                ? languages.get(best) : null;
    }

    List<String> languages() {
        return languages;
    }

    private static int[] append(int[] values, int value) {
        int[] out = java.util.Arrays.copyOf(values, values.length + 1);
        out[values.length] = value;
        return out;
    }
}
