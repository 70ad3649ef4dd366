namespace Rollout.Models.Tokenization;

/// <summary>The text <see cref="TinyBpeTokenizerBuilder"/> trains on: prose, chat turns, code and numbers.</summary>
internal static class TinyBpeCorpus
{
    public const string Text = """
        Once upon a time there was a little robot who lived in a quiet town by the sea. Every morning the
        robot walked along the shore and counted the waves. It counted one, two, three, and then it lost
        count, because the waves never stopped coming. The robot was not sad about this. It liked the sound
        of the water and the smell of the salt, and it liked the children who came to play on the sand.

        One day a girl named Lily asked the robot, "Why do you count the waves if you always lose count?"
        The robot thought about the question for a long time. "I count them because it is fun," it said at
        last. "The number is not important. What matters is that I am here, and the sea is there, and we
        are together for a while." Lily smiled. She sat down next to the robot and they counted together.

        The weather in the town changed with the seasons. In the spring the flowers opened and the birds
        sang in the trees. In the summer the days were long and hot, and people went swimming in the cold
        water. In the autumn the leaves turned red and yellow and fell to the ground. In the winter it was
        dark early, and everyone stayed inside, drinking tea and telling stories by the fire.

        Scientists study the world by asking questions, making predictions, and testing them with careful
        experiments. A good experiment changes one thing at a time and measures what happens. If the result
        matches the prediction, the idea survives for now; if it does not, the idea must change. This is
        how we learned that the Earth goes around the Sun, that water is made of hydrogen and oxygen, and
        that living things share a common history written in their genes.

        <|im_start|>user
        What is the capital of France?<|im_end|>
        <|im_start|>assistant
        The capital of France is Paris. It is known for the Eiffel Tower, its museums and its cafes.<|im_end|>
        <|im_start|>user
        Can you write a function that adds two numbers?<|im_end|>
        <|im_start|>assistant
        Sure! Here it is in Python:

        def add(a, b):
            return a + b

        print(add(2, 3))  # prints 5
        <|im_end|>

        for (int i = 0; i < count; i++)
        {
            if (values[i] > max) max = values[i];
            total += values[i];
        }
        return total / count;

        public static string Greet(string name) => $"Hello, {name}!";

        const items = [1, 2, 3].map(x => x * 2);
        console.log(JSON.stringify({ items, ok: true }));

        In 2023 the town had 12,450 people; by 2024 it had 12,987. The robot was 7 years old, weighed 42.5
        kilograms and could walk 3.2 kilometres per hour. Its serial number was 0451-7782-9930 and its
        battery lasted 18 hours. Tickets cost $15.99, or 20% less on Mondays: 1, 10, 100, 1000, 10000.
        """;
}
