# Every 64 KiB of RAM above the image is written, then checked.
boot --append "scenario=mem step=65536" --memory 128M
expect_exit 0
expect_output "top 128 MiB, above 4 GiB 0 MiB, 0 bad"
