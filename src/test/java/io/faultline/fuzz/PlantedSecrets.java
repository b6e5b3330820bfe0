package io.faultline.fuzz;

import java.util.List;
import java.util.SplittableRandom;

/**
 * Recognisable fake secrets, fresh per seed, that the campaign plants in prompts, answers, error texts and metadata.
 * None of their raw forms may be found in the database afterwards.
 */
record PlantedSecrets(String openAiKey, String anthropicKey, String googleKey, String cardDigits, String email) {

    static PlantedSecrets of(long seed) {
        SplittableRandom random = new SplittableRandom(seed ^ 0x5EC12E75L);
        return new PlantedSecrets("sk-proj-" + alnum(random, 40), "sk-ant-api03-" + alnum(random, 48),
                "AIza" + alnum(random, 35), luhnCard(random), "fuzz." + alnum(random, 10).toLowerCase()
                        + "@example.org");
    }

    /** The card as people write it: in groups of four. */
    String cardSpaced() {
        return cardDigits.substring(0, 4) + " " + cardDigits.substring(4, 8) + " " + cardDigits.substring(8, 12) + " "
                + cardDigits.substring(12);
    }

    String cardDashed() {
        return cardSpaced().replace(' ', '-');
    }

    /** Every raw form that must not be stored. */
    List<String> rawForms() {
        return List.of(openAiKey, anthropicKey, googleKey, cardDigits, cardSpaced(), cardDashed(), email);
    }

    /** A sentence carrying all of them, in one of the forms a user or a model would write. */
    String sentence(SplittableRandom random) {
        String card = switch (random.nextInt(3)) {
            case 0 -> cardDigits;
            case 1 -> cardSpaced();
            default -> cardDashed();
        };
        return switch (random.nextInt(4)) {
            case 0 -> "My OpenAI key is " + openAiKey + " and my card is " + card + "; write to " + email + ".";
            case 1 -> "Sure: the card on file is " + card + ", the receipt went to " + email + ", key " + anthropicKey;
            case 2 -> "export GOOGLE_API_KEY=" + googleKey + "\nexport OPENAI_API_KEY=" + openAiKey + " # " + email;
            default -> "Contact " + email + " (card " + card + ", keys " + openAiKey + " " + googleKey + ")";
        };
    }

    static boolean luhnValid(String digits) {
        int sum = 0;
        for (int i = 0; i < digits.length(); i++) {
            int d = digits.charAt(digits.length() - 1 - i) - '0';
            if (i % 2 == 1) {
                d *= 2;
                if (d > 9) {
                    d -= 9;
                }
            }
            sum += d;
        }
        return sum % 10 == 0;
    }

    private static String luhnCard(SplittableRandom random) {
        StringBuilder digits = new StringBuilder("4");
        while (digits.length() < 15) {
            digits.append(random.nextInt(10));
        }
        for (int check = 0; check < 10; check++) {
            if (luhnValid(digits.toString() + check)) {
                return digits.append(check).toString();
            }
        }
        throw new IllegalStateException("one check digit always fits");
    }

    private static String alnum(SplittableRandom random, int length) {
        String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        StringBuilder out = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            out.append(alphabet.charAt(random.nextInt(alphabet.length())));
        }
        return out.toString();
    }
}
