package io.faultline.content;

import com.optimaize.langdetect.DetectedLanguage;
import com.optimaize.langdetect.LanguageDetector;
import com.optimaize.langdetect.LanguageDetectorBuilder;
import com.optimaize.langdetect.ngram.NgramExtractors;
import com.optimaize.langdetect.profiles.LanguageProfile;
import com.optimaize.langdetect.profiles.LanguageProfileReader;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Identifies the language of a text among a configured few, with the n-gram profiles of the optimaize
 * language-detector (the Cybozu langdetect algorithm, as Apache Tika uses it). Code, URLs, e-mail addresses, numbers
 * and markup are removed first: they carry no language and skew the n-grams. Thread-safe; deterministic (the
 * library seeds its sampling with a fixed seed).
 */
public final class LanguageIdentifier {

    /** A language and the probability the identifier gives it. */
    public record Guess(String language, double probability, int letters) {
    }

    private static final Pattern FENCED_CODE = Pattern.compile("```.*?(```|\\z)", Pattern.DOTALL);
    private static final Pattern INLINE_CODE = Pattern.compile("`[^`\\n]*`");
    private static final Pattern URL = Pattern.compile("\\b(?:https?://|www\\.)\\S+");
    private static final Pattern EMAIL = Pattern.compile("[^\\s@]+@[^\\s@]+\\.\\w+");
    private static final Pattern NON_LETTERS = Pattern.compile("[\\p{N}_#*>|=~^\\[\\]{}()<>\\\\/]+");

    private final LanguageDetector detector;
    private final List<String> languages;

    public LanguageIdentifier(List<String> languages) {
        this.languages = languages.stream().map(code -> code.trim().toLowerCase(Locale.ROOT)).distinct().toList();
        try {
            List<LanguageProfile> profiles = new LanguageProfileReader().read(this.languages);
            this.detector = LanguageDetectorBuilder.create(NgramExtractors.standard()).withProfiles(profiles).build();
        } catch (IOException e) {
            throw new UncheckedIOException("language profiles " + this.languages + " not on the classpath", e);
        }
    }

    public List<String> languages() {
        return languages;
    }

    /** Text with code, URLs, addresses, numbers and markup removed: what carries language. */
    public static String prose(String text) {
        String out = FENCED_CODE.matcher(text).replaceAll(" ");
        out = INLINE_CODE.matcher(out).replaceAll(" ");
        out = URL.matcher(out).replaceAll(" ");
        out = EMAIL.matcher(out).replaceAll(" ");
        return NON_LETTERS.matcher(out).replaceAll(" ");
    }

    public static int letters(CharSequence text) {
        int letters = 0;
        for (int i = 0; i < text.length(); i++) {
            if (Character.isLetter(text.charAt(i))) {
                letters++;
            }
        }
        return letters;
    }

    /** The most probable configured language of {@code text}, or empty when it has fewer than {@code minLetters}. */
    public Optional<Guess> identify(String text, int minLetters) {
        String prose = prose(text);
        int letters = letters(prose);
        if (letters < minLetters) {
            return Optional.empty();
        }
        List<DetectedLanguage> probabilities = detector.getProbabilities(prose);
        if (probabilities.isEmpty()) {
            return Optional.empty();
        }
        DetectedLanguage top = probabilities.get(0);
        return Optional.of(new Guess(top.getLocale().getLanguage(), top.getProbability(), letters));
    }
}
