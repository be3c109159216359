"""DragonFly Mail Agent (dma), the small MTA of DragonFly BSD and some Linux systems."""

from backscatter.mail.formats.text import TextFormat, body_says

RECOGNISER = TextFormat(
    "dragonfly",
    detect=body_says("this is the dragonfly mail agent"),
    starts=("there was an error delivering your mail to",),
    ends=("message headers follow",),
)
