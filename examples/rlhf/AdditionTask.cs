namespace Rollout.Examples.Rlhf;

/// <summary>
/// The verifiable task: add two numbers of <see cref="Digits"/> digits. The prompt is
/// <c>BOS a + b =</c> with both operands zero-padded; the answer is the sum in <see cref="Digits"/> + 1
/// digits written least-significant digit first (the order in which a left-to-right model can carry),
/// then EOS. Tokens are one per character.
/// </summary>
internal sealed class AdditionTask(int digits)
{
    public const int Plus = 10, EqualsSign = 11, Eos = 12, Bos = 13, VocabSize = 16;

    public int Digits { get; } = digits;

    /// <summary>Answer digits plus EOS: the most a completion needs.</summary>
    public int AnswerTokens => Digits + 2;

    public int PromptTokens => 2 * Digits + 3;

    int Range => (int)Math.Pow(10, Digits);

    /// <summary>
    /// Splits every problem into a held-out set of <paramref name="heldOut"/> problems, never trained
    /// on, and the rest for training (drawn lazily: with three digits there are a million problems).
    /// </summary>
    public (IReadOnlyList<Problem> HeldOut, Func<Random, Problem> DrawTraining) Split(int heldOut, int seed)
    {
        var random = new Random(seed);
        var held = new HashSet<(int, int)>();
        while (held.Count < heldOut) held.Add((random.Next(Range), random.Next(Range)));
        var heldList = held.Select(p => new Problem(p.Item1, p.Item2)).ToList();
        Problem Draw(Random r)
        {
            while (true)
            {
                var (a, b) = (r.Next(Range), r.Next(Range));
                if (!held.Contains((a, b))) return new Problem(a, b);
            }
        }
        return (heldList, Draw);
    }

    public int[] Prompt(Problem p) => [Bos, .. DigitsOf(p.A, Digits), Plus, .. DigitsOf(p.B, Digits), EqualsSign];

    /// <summary>The answer tokens a correct completion generates, EOS included.</summary>
    public int[] Answer(Problem p) => Answer(p.A + p.B);

    int[] Answer(int sum) => [.. DigitsOf(sum, Digits + 1).Reverse(), Eos];

    /// <summary>What the reward function checks against: the sum, as text.</summary>
    public static string Reference(Problem p) => (p.A + p.B).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>1 for the exact answer; otherwise half the fraction of answer digits in their right place.</summary>
    public float Reward(string reference, IReadOnlyList<int> completion)
    {
        var answer = Answer(int.Parse(reference, System.Globalization.CultureInfo.InvariantCulture));
        if (completion.SequenceEqual(answer)) return 1f;
        int right = 0;
        for (int i = 0; i < Digits + 1 && i < completion.Count; i++)
            if (completion[i] == answer[i]) right++;
        return 0.5f * right / (Digits + 1);
    }

    public bool Solves(Problem p, IReadOnlyList<int> completion) => completion.SequenceEqual(Answer(p));

    static IEnumerable<int> DigitsOf(int value, int width) =>
        value.ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(width, '0').Select(c => c - '0');
}

/// <summary>One addition problem.</summary>
internal readonly record struct Problem(int A, int B);
