"""Drop-in replacements for other libraries' SSIM functions, with their signatures."""
