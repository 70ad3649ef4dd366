using System.Globalization;
using System.Text;

namespace Rollout.Models.Chat.Jinja;

/// <summary>Python's <c>strftime</c> for the directives chat templates use, in the C locale.</summary>
internal static class Strftime
{
    public static string Format(DateTime date, string format)
    {
        var culture = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 == format.Length)
            {
                sb.Append(format[i]);
                continue;
            }
            char directive = format[++i];
            sb.Append(directive switch
            {
                'Y' => date.Year.ToString(culture),
                'y' => date.ToString("yy", culture),
                'm' => date.ToString("MM", culture),
                'd' => date.ToString("dd", culture),
                'e' => date.Day.ToString(culture).PadLeft(2),
                'b' or 'h' => date.ToString("MMM", culture),
                'B' => date.ToString("MMMM", culture),
                'a' => date.ToString("ddd", culture),
                'A' => date.ToString("dddd", culture),
                'H' => date.ToString("HH", culture),
                'I' => date.ToString("hh", culture),
                'M' => date.ToString("mm", culture),
                'S' => date.ToString("ss", culture),
                'p' => date.Hour < 12 ? "AM" : "PM",
                'j' => date.DayOfYear.ToString("000", culture),
                '%' => "%",
                _ => "%" + directive,
            });
        }
        return sb.ToString();
    }
}
