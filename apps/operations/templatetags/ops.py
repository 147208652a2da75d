from django import template

register = template.Library()


@register.filter
def age(seconds: float | None) -> str:
    """12.3 -> "12s", 192 -> "3m 12s", 7500 -> "2h 5m", None -> "–"."""
    if seconds is None:
        return "–"
    total = int(seconds)
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    return f"{hours // 24}d {hours % 24}h"
